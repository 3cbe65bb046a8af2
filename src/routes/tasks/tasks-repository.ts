/**
 * SQL that changes tasks and their assignee/tag sets. The rules (what changes, which events) live in
 * tasks-service.ts; creation (one statement) in task-create.ts; reads with details in task-reads.ts.
 */
import { CompiledQuery, sql } from 'kysely';
import { quoteIdent } from '../../db/hosts.ts';
import type { TaskAction, TaskColumns, TaskPriority, TaskStatus, TodoDb } from './tables.ts';
import { positionLocksSql } from './task-locks.ts';

/** The state of a task a PATCH starts from, read under a row lock. */
export interface LockedTask extends TaskColumns {
  assignee_ids: string[];
  assignee_uuids: string[];
  tag_ids: string[];
  tag_uuids: string[];
}

export interface TaskChanges {
  list_id?: string | null;
  title?: string;
  description?: string;
  status?: TaskStatus;
  priority?: TaskPriority;
  due_at?: Date | null;
  position?: number;
}

export interface EventRow {
  action: TaskAction;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

const json = (value: Record<string, unknown> | null) => (value === null ? null : JSON.stringify(value));

/**
 * The last position in a list (`condition` = '= <list id>') or the inbox ('IS NULL'), as SQL text.
 * Not `max(position)`: PostgreSQL reads max() from an index only when the columns before `position` are
 * fixed by equality, and `list_id IS NULL` is not equality — so the inbox's max() read every inbox task
 * (a sequential scan, 4 ms at 14,000 tasks). Ordering by `list_id DESC NULLS FIRST, position DESC` is a
 * backward scan of tasks_list_position_idx for both, which stops at the first row.
 */
export const LAST_POSITION = (tasks: string, condition: string) =>
  `SELECT x.position FROM ${tasks} x WHERE x.deleted_at IS NULL AND x.list_id ${condition}
   ORDER BY x.list_id DESC NULLS FIRST, x.position DESC LIMIT 1`;

export class TasksRepository {
  constructor(
    readonly db: TodoDb,
    /** The tenant schema: part of the advisory-lock keys of positions (task-locks.ts). */
    private readonly schema: string,
  ) {}

  /**
   * The task a change starts from, its row locked until the transaction ends: two concurrent PATCHes of
   * one task run one after the other, and the second diffs against the first's result, so neither
   * loses the other's assignee or tag set.
   *
   * Two statements on purpose. Under READ COMMITTED a statement that waited for a row lock re-reads
   * only the locked row; its subqueries (the assignee and tag sets) would still see the snapshot taken
   * before the wait — the other PATCH's set changes would be invisible and then overwritten. The
   * second statement starts after the lock is ours, with a fresh snapshot. (test/todo/concurrency)
   */
  async lock(uuid: string, state: 'live' | 'deleted'): Promise<LockedTask | undefined> {
    const locked = await this.db
      .selectFrom('tasks')
      .select('id')
      .where('uuid', '=', uuid)
      .where('deleted_at', state === 'live' ? 'is' : 'is not', null)
      .forUpdate()
      .executeTakeFirst();
    if (!locked) return undefined;
    return this.db
      .selectFrom('tasks as t')
      .leftJoin('lists as l', 'l.id', 't.list_id')
      .select((eb) => [
        't.id',
        't.uuid',
        't.list_id',
        'l.uuid as list_uuid',
        't.title',
        't.description',
        't.status',
        't.priority',
        't.due_at',
        't.completed_at',
        't.position',
        't.deleted_at',
        eb
          .selectFrom('task_assignees as ta')
          .innerJoin('users as u', 'u.id', 'ta.user_id')
          .select(sql<string[]>`coalesce(array_agg(u.id::text ORDER BY u.email), '{}')`.as('ids'))
          .whereRef('ta.task_id', '=', 't.id')
          .$asScalar()
          .$notNull()
          .as('assignee_ids'),
        eb
          .selectFrom('task_assignees as ta')
          .innerJoin('users as u', 'u.id', 'ta.user_id')
          .select(sql<string[]>`coalesce(array_agg(u.uuid::text ORDER BY u.email), '{}')`.as('uuids'))
          .whereRef('ta.task_id', '=', 't.id')
          .$asScalar()
          .$notNull()
          .as('assignee_uuids'),
        eb
          .selectFrom('task_tags as tt')
          .innerJoin('tags as g', 'g.id', 'tt.tag_id')
          .select(sql<string[]>`coalesce(array_agg(g.id::text ORDER BY g.name), '{}')`.as('ids'))
          .whereRef('tt.task_id', '=', 't.id')
          .$asScalar()
          .$notNull()
          .as('tag_ids'),
        eb
          .selectFrom('task_tags as tt')
          .innerJoin('tags as g', 'g.id', 'tt.tag_id')
          .select(sql<string[]>`coalesce(array_agg(g.uuid::text ORDER BY g.name), '{}')`.as('uuids'))
          .whereRef('tt.task_id', '=', 't.id')
          .$asScalar()
          .$notNull()
          .as('tag_uuids'),
      ])
      .where('t.id', '=', locked.id)
      .executeTakeFirst();
  }

  /** The internal id of a live task by uuid, without locking. */
  async liveId(uuid: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('tasks')
      .select('id')
      .where('uuid', '=', uuid)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row?.id;
  }

  /** The internal id of a task by uuid, live or deleted (the timeline outlives deletion). */
  async idOf(uuid: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('tasks').select('id').where('uuid', '=', uuid).executeTakeFirst();
    return row?.id;
  }

  list(uuid: string): Promise<{ id: string; uuid: string; archived_at: Date | null } | undefined> {
    return this.db
      .selectFrom('lists')
      .select(['id', 'uuid', 'archived_at'])
      .where('uuid', '=', uuid)
      .executeTakeFirst();
  }

  /** Live, active users among these uuids (assignees must be able to sign in). */
  users(uuids: readonly string[]): Promise<Array<{ id: string; uuid: string; email: string }>> {
    if (uuids.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('users')
      .select(['id', 'uuid', 'email'])
      .where('uuid', 'in', uuids)
      .where('deleted_at', 'is', null)
      .where('is_active', '=', true)
      .orderBy('email')
      .execute();
  }

  tags(uuids: readonly string[]): Promise<Array<{ id: string; uuid: string; name: string }>> {
    if (uuids.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('tags')
      .select(['id', 'uuid', 'name'])
      .where('uuid', 'in', uuids)
      .orderBy('name')
      .execute();
  }

  /**
   * Writes the changed columns (always `updated_at`); `completion` sets completed_at from the database
   * clock on entering done, or clears it on leaving done.
   */
  update(
    id: string,
    changes: TaskChanges,
    completion?: 'now' | 'clear',
  ): Promise<{ position: number; completed_at: Date | null }> {
    const completedAt =
      completion === 'now'
        ? { completed_at: sql<Date>`now()` }
        : completion === 'clear'
          ? { completed_at: null }
          : {};
    return this.db
      .updateTable('tasks')
      .set({ ...changes, ...completedAt, updated_at: sql`now()` })
      .where('id', '=', id)
      .returning(['position', 'completed_at'])
      .executeTakeFirstOrThrow();
  }

  /** Soft delete, or restore at `position` (the end of its list). */
  setDeleted(id: string, deleted: boolean, position?: number): Promise<{ deleted_at: Date | null }> {
    return this.db
      .updateTable('tasks')
      .set({
        deleted_at: deleted ? sql<Date>`now()` : null,
        updated_at: sql`now()`,
        ...(position === undefined ? {} : { position }),
      })
      .where('id', '=', id)
      .returning('deleted_at')
      .executeTakeFirstOrThrow();
  }

  async replaceAssignees(taskId: string, add: readonly string[], remove: readonly string[]): Promise<void> {
    if (remove.length > 0)
      await this.db
        .deleteFrom('task_assignees')
        .where('task_id', '=', taskId)
        .where('user_id', 'in', remove)
        .execute();
    if (add.length > 0)
      await this.db
        .insertInto('task_assignees')
        .values(add.map((userId) => ({ task_id: taskId, user_id: userId })))
        .onConflict((oc) => oc.doNothing())
        .execute();
  }

  async replaceTags(taskId: string, add: readonly string[], remove: readonly string[]): Promise<void> {
    if (remove.length > 0)
      await this.db
        .deleteFrom('task_tags')
        .where('task_id', '=', taskId)
        .where('tag_id', 'in', remove)
        .execute();
    if (add.length > 0)
      await this.db
        .insertInto('task_tags')
        .values(add.map((tagId) => ({ task_id: taskId, tag_id: tagId })))
        .onConflict((oc) => oc.doNothing())
        .execute();
  }

  /**
   * Takes the position locks of these lists (null: the inbox) for the rest of the transaction, before any
   * task row is locked — the lock order of task-locks.ts.
   */
  async lockPositions(listUuids: ReadonlyArray<string | null>): Promise<void> {
    await this.db.executeQuery(CompiledQuery.raw(positionLocksSql(this.schema, listUuids)));
  }

  /** The list (uuid; null: the inbox) a task is in, read without locking: which position lock to take. */
  async place(uuid: string, state: 'live' | 'deleted'): Promise<{ list_uuid: string | null } | undefined> {
    return this.db
      .selectFrom('tasks as t')
      .leftJoin('lists as l', 'l.id', 't.list_id')
      .select('l.uuid as list_uuid')
      .where('t.uuid', '=', uuid)
      .where('t.deleted_at', state === 'live' ? 'is' : 'is not', null)
      .executeTakeFirst();
  }

  /** Closes the slot a task left at `position` (deleted, or moved to another list): positions stay dense. */
  async closeGap(listId: string | null, position: number): Promise<void> {
    await this.db
      .updateTable('tasks')
      .set({ position: sql`position - 1` })
      .where('deleted_at', 'is', null)
      .where((eb) => (listId === null ? eb('list_id', 'is', null) : eb('list_id', '=', listId)))
      .where('position', '>', position)
      .execute();
  }

  /**
   * Opens the slot `to` in a list for a task that is at `from` (null: the task is entering the list):
   * the tasks between move by one. Under the list's position lock, positions are 1..n without gaps.
   */
  async shiftPositions(listId: string | null, from: number | null, to: number): Promise<void> {
    if (from === to) return;
    let query = this.db
      .updateTable('tasks')
      .where('deleted_at', 'is', null)
      .where((eb) => (listId === null ? eb('list_id', 'is', null) : eb('list_id', '=', listId)));
    if (from === null || to < from) {
      query = query.set({ position: sql`position + 1` }).where('position', '>=', to);
      if (from !== null) query = query.where('position', '<', from);
    } else {
      query = query
        .set({ position: sql`position - 1` })
        .where('position', '>', from)
        .where('position', '<=', to);
    }
    await query.execute();
  }

  /** The next free position at the end of a list (the same lookup as task creation, `LAST_POSITION`). */
  async nextPosition(listId: string | null): Promise<number> {
    const tasks = `${quoteIdent(this.schema)}.tasks`;
    const query =
      listId === null
        ? CompiledQuery.raw(LAST_POSITION(tasks, 'IS NULL'))
        : CompiledQuery.raw(LAST_POSITION(tasks, '= $1'), [listId]);
    const { rows } = await this.db.executeQuery<{ position: number }>(query);
    return (rows[0]?.position ?? 0) + 1;
  }

  async appendEvents(taskId: string, actorId: string, events: readonly EventRow[]): Promise<void> {
    if (events.length === 0) return;
    await this.db
      .insertInto('change_events')
      .values(
        events.map((event) => ({
          entity: 'task',
          entity_id: taskId,
          actor_id: actorId,
          action: event.action,
          before: json(event.before),
          after: json(event.after),
        })),
      )
      .execute();
  }
}
