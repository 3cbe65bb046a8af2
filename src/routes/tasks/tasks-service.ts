/**
 * The rules of tasks: references resolved inside this tenant (422 when unknown), archived lists refused,
 * one transaction per change with its timeline events, the row lock that keeps concurrent PATCHes from
 * losing each other's sets. SQL lives in tasks-repository.ts, task-create.ts and task-reads.ts.
 */
import { inTransaction, RetryableConflict } from '../../db/transaction.ts';
import { checkVersion } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import { type Page, pageJson, pageOf } from '../auth/schemas.ts';
import { containsPattern } from '../users/users-repository.ts';
import type { CreateTaskBody, EventBody, PatchTaskBody, TaskListQuery } from './schemas.ts';
import type { TodoDb } from './tables.ts';
import { eventsOf, planChange, type ResolvedPatch } from './task-changes.ts';
import { createTask } from './task-create.ts';
import { readEvents } from './task-events.ts';
import type { TaskFilters } from './task-filters.ts';
import { readTask, readTasks, type TaskJsonText } from './task-reads.ts';
import { TasksRepository } from './tasks-repository.ts';

export interface Actor {
  id: string;
  uuid: string;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** Query-string filters → repository filters; `due_before <= due_after` is an empty window: 422. */
export function filtersOf(
  query: Omit<Partial<TaskListQuery>, 'page' | 'size' | 'sort' | 'order'>,
  actor: Actor,
) {
  const dueBefore = query.due_before === undefined ? undefined : new Date(query.due_before);
  const dueAfter = query.due_after === undefined ? undefined : new Date(query.due_after);
  if (dueBefore && dueAfter && dueBefore <= dueAfter) {
    throw problems.unprocessable('due_before must be later than due_after', [
      { path: '/query/due_before', message: 'must be later than due_after' },
    ]);
  }
  const filters: TaskFilters = {
    list: query.list === 'inbox' ? null : query.list,
    status: query.status,
    priority: query.priority,
    assignee: query.assignee === 'me' ? actor.uuid : query.assignee,
    tag: query.tag,
    dueBefore,
    dueAfter,
    overdue: query.overdue,
    searchPattern: query.search ? containsPattern(query.search) : undefined,
    deleted: query.deleted,
  };
  return filters;
}

const unknownRefs = (field: string, wanted: readonly string[], found: ReadonlySet<string>, what: string) =>
  wanted.flatMap((uuid, i) =>
    found.has(uuid) ? [] : [{ path: `/body/${field}/${i}`, message: `no such ${what}` }],
  );

export class TasksService {
  private readonly repo: TasksRepository;

  constructor(
    private readonly db: TodoDb,
    private readonly schema: string,
  ) {
    this.repo = new TasksRepository(db, schema);
  }

  /** The page's answer as JSON text (`Page<TaskBody>`). */
  async page(query: TaskListQuery, actor: Actor): Promise<string> {
    const filters = filtersOf(query, actor);
    const { items, total } = await readTasks(
      this.db,
      this.schema,
      { sort: query.sort, order: query.order },
      { filters, offset: (query.page - 1) * query.size, limit: query.size },
    );
    return pageJson(items, total, query.page, query.size);
  }

  async get(uuid: string): Promise<TaskJsonText> {
    const body = await readTask(this.db, this.schema, uuid);
    if (!body) throw problems.notFound('task', uuid);
    return body;
  }

  /** Assignees and tags by uuid; every one must exist in this tenant (422 naming the bad entries). */
  private async resolveSets(input: { assignees?: string[]; tags?: string[] }, repo: TasksRepository) {
    const [users, tags] = await Promise.all([repo.users(input.assignees ?? []), repo.tags(input.tags ?? [])]);
    const errors = [
      ...unknownRefs('assignees', input.assignees ?? [], new Set(users.map((u) => u.uuid)), 'user'),
      ...unknownRefs('tags', input.tags ?? [], new Set(tags.map((t) => t.uuid)), 'tag'),
    ];
    if (errors.length > 0) throw problems.unprocessable('Unknown assignees or tags', errors);
    return { users, tags };
  }

  private async listProblem(uuid: string, repo: TasksRepository) {
    const list = await repo.list(uuid);
    return list
      ? problems.unprocessable('The list is archived', [
          { path: '/body/list_uuid', message: 'list is archived' },
        ])
      : problems.unprocessable('Unknown list', [{ path: '/body/list_uuid', message: 'no such list' }]);
  }

  async create(input: CreateTaskBody, actor: Actor): Promise<TaskJsonText> {
    const listUuid = input.list_uuid ?? null;
    const status = input.status ?? 'todo';
    const priority = input.priority ?? 'medium';
    const dueAt = input.due_at ? new Date(input.due_at).toISOString() : null;
    const description = input.description ?? '';
    const assignees = input.assignees ?? [];
    const tags = input.tags ?? [];
    const created = await createTask(this.db, this.schema, {
      listUuid,
      title: input.title,
      description,
      status,
      priority,
      dueAt,
      author: actor,
      assignees,
      tags,
      snapshot: { title: input.title, description, status, priority, due_at: dueAt, list: listUuid },
    });
    if (created.body !== null) return created.body;
    const errors = [
      ...unknownRefs('assignees', assignees, new Set(created.foundAssignees), 'user'),
      ...unknownRefs('tags', tags, new Set(created.foundTags), 'tag'),
    ];
    if (errors.length > 0) throw problems.unprocessable('Unknown assignees or tags', errors);
    throw await this.listProblem(listUuid ?? '', this.repo);
  }

  /**
   * A PATCH in one transaction (retried once on a deadlock or serialization failure). Lock order
   * (task-locks.ts): a patch that may move the task first takes the position locks of its list and of the
   * target list, then the task row.
   */
  async patch(uuid: string, input: PatchTaskBody, actor: Actor, ifMatch?: string): Promise<TaskJsonText> {
    return inTransaction(this.db, async (trx) => {
      const repo = new TasksRepository(trx, this.schema);
      const moves = input.position !== undefined || input.list_uuid !== undefined;
      const place = moves ? await repo.place(uuid, 'live') : undefined;
      if (moves) {
        if (!place) throw problems.notFound('task', uuid);
        const target = input.list_uuid === undefined ? place.list_uuid : input.list_uuid;
        await repo.lockPositions([place.list_uuid, target]);
      }
      const task = await repo.lock(uuid, 'live');
      if (!task) throw problems.notFound('task', uuid);
      await checkVersion(trx, 'tasks', uuid, ifMatch);
      // Moved to another list between reading its place and locking: our position locks are the wrong ones.
      if (place && place.list_uuid !== task.list_uuid)
        throw new RetryableConflict('the task moved meanwhile');
      const resolved = await this.resolvePatch(input, repo);
      if (resolved.position !== undefined) {
        // Positions are dense (1..n): a position past the end means the end, one below 1 the start.
        const toList = resolved.list ? resolved.list.id : task.list_id;
        const last = (await repo.nextPosition(toList)) - 1;
        const end = toList === task.list_id ? last : last + 1;
        resolved.position = Math.min(Math.max(resolved.position, 1), end);
      }
      const plan = planChange(task, resolved);
      if (plan.any) {
        let position: number | undefined;
        if (plan.move) {
          const { toList } = plan.move;
          const entering = toList !== task.list_id;
          if (entering) await repo.closeGap(task.list_id, task.position);
          if (plan.move.position === undefined) position = await repo.nextPosition(toList);
          else {
            position = plan.move.position;
            await repo.shiftPositions(toList, entering ? null : task.position, position);
          }
        }
        const result = await repo.update(
          task.id,
          { ...plan.fields, ...(position === undefined ? {} : { position }) },
          plan.completion,
        );
        await repo.replaceAssignees(
          task.id,
          plan.assignees.add.map((a) => a.id),
          plan.assignees.remove.map((a) => a.id),
        );
        await repo.replaceTags(
          task.id,
          plan.tags.add.map((t) => t.id),
          plan.tags.remove.map((t) => t.id),
        );
        await repo.appendEvents(task.id, actor.id, eventsOf(task, plan, result));
      }
      const body = await readTask(trx, this.schema, uuid);
      if (!body) throw problems.notFound('task', uuid);
      return body;
    });
  }

  private async resolvePatch(input: PatchTaskBody, repo: TasksRepository): Promise<ResolvedPatch> {
    const resolved: ResolvedPatch = {
      title: input.title,
      description: input.description,
      status: input.status,
      priority: input.priority,
      position: input.position,
    };
    if (input.due_at !== undefined) resolved.dueAt = input.due_at === null ? null : new Date(input.due_at);
    if (input.list_uuid === null) resolved.list = { id: null, uuid: null };
    else if (input.list_uuid !== undefined) {
      const list = await repo.list(input.list_uuid);
      if (!list || list.archived_at !== null) throw await this.listProblem(input.list_uuid, repo);
      resolved.list = { id: list.id, uuid: list.uuid };
    }
    if (input.assignees || input.tags) {
      const { users, tags } = await this.resolveSets(input, repo);
      if (input.assignees) resolved.assignees = users;
      if (input.tags) resolved.tags = tags;
    }
    return resolved;
  }

  /**
   * Soft delete (`deleted`: its slot in the list closes) or restore (at the end of its list), with its
   * event, in one transaction; lock order as in `patch`: the list's position lock, then the task row.
   */
  async setDeleted(
    uuid: string,
    deleted: boolean,
    actor: Actor,
    ifMatch?: string,
  ): Promise<TaskJsonText | undefined> {
    const state = deleted ? 'live' : 'deleted';
    const what = deleted ? 'task' : 'deleted task';
    return inTransaction(this.db, async (trx) => {
      const repo = new TasksRepository(trx, this.schema);
      const place = await repo.place(uuid, state);
      if (!place) throw problems.notFound(what, uuid);
      await repo.lockPositions([place.list_uuid]);
      const task = await repo.lock(uuid, state);
      if (!task) throw problems.notFound(what, uuid);
      await checkVersion(trx, 'tasks', uuid, ifMatch);
      if (task.list_uuid !== place.list_uuid) throw new RetryableConflict('the task moved meanwhile');
      const result = deleted
        ? await repo.setDeleted(task.id, true)
        : await repo.setDeleted(task.id, false, await repo.nextPosition(task.list_id));
      if (deleted) await repo.closeGap(task.list_id, task.position);
      await repo.appendEvents(task.id, actor.id, [
        {
          action: deleted ? 'deleted' : 'restored',
          before: { deleted_at: iso(task.deleted_at) },
          after: { deleted_at: iso(result.deleted_at) },
        },
      ]);
      if (deleted) return undefined;
      return readTask(trx, this.schema, uuid);
    });
  }

  async events(uuid: string, page: number, size: number): Promise<Page<EventBody>> {
    const taskId = await this.repo.idOf(uuid);
    if (!taskId) throw problems.notFound('task', uuid);
    const { items, total } = await readEvents(this.db, taskId, (page - 1) * size, size);
    return pageOf(items, total, page, size);
  }
}
