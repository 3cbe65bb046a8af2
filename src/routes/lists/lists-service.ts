/**
 * Rules of lists. Deleting a list that holds tasks (live or in the trash) archives it instead: the tasks
 * keep their list, their timeline stays true, nothing is rewritten, and PATCH `archived: false` brings it
 * all back. Only an empty list is really deleted. (The alternative — moving the tasks to the inbox —
 * would rewrite every task and its timeline, and could not be undone.) New tasks cannot go into an
 * archived list (tasks-service.ts).
 */
import { inTransaction } from '../../db/transaction.ts';
import { checkVersion } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import { type Page, pageOf } from '../auth/schemas.ts';
import type { TodoDb } from '../tasks/tables.ts';
import type { Actor } from '../tasks/tasks-service.ts';
import { type ListRow, ListsRepository } from './lists-repository.ts';
import type { CreateListBody, ListBody, ListQuery, PatchListBody } from './schemas.ts';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function listBody(row: ListRow): ListBody {
  return {
    uuid: row.uuid,
    name: row.name,
    description: row.description,
    color: row.color,
    position: row.position,
    archived_at: iso(row.archived_at),
    task_count: row.task_count,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

export class ListsService {
  constructor(
    private readonly db: TodoDb,
    private readonly schema: string,
  ) {}

  private repo(db: TodoDb = this.db) {
    return new ListsRepository(db, this.schema);
  }

  async page(query: ListQuery): Promise<Page<ListBody>> {
    const { rows, total } = await this.repo().page({
      archived: query.archived,
      sort: query.sort,
      order: query.order,
      offset: (query.page - 1) * query.size,
      limit: query.size,
    });
    return pageOf(rows.map(listBody), total, query.page, query.size);
  }

  async get(uuid: string): Promise<ListBody> {
    const row = await this.repo().find(uuid);
    if (!row) throw problems.notFound('list', uuid);
    return listBody(row);
  }

  /**
   * Lists' positions are dense (1..n) like tasks': every change of them holds the lists' position lock,
   * taken before any list row (the lock order of src/routes/tasks/task-locks.ts), so concurrent creations
   * get distinct positions and concurrent reorders never deadlock.
   */
  async create(input: CreateListBody, actor: Actor): Promise<ListBody> {
    const uuid = await inTransaction(this.db, async (trx) => {
      const repo = this.repo(trx);
      await repo.lockPositions();
      return repo.insert({
        name: input.name,
        description: input.description ?? '',
        color: input.color ?? null,
        createdBy: actor.id,
      });
    });
    return this.get(uuid);
  }

  async patch(uuid: string, input: PatchListBody, ifMatch?: string): Promise<ListBody> {
    await inTransaction(this.db, async (trx) => {
      const repo = this.repo(trx);
      if (input.position !== undefined) await repo.lockPositions();
      const list = await repo.lock(uuid);
      if (!list) throw problems.notFound('list', uuid);
      await checkVersion(trx, 'lists', uuid, ifMatch);
      const { archived, position: wanted, ...changes } = input;
      let position: number | undefined;
      if (wanted !== undefined) {
        position = Math.min(Math.max(wanted, 1), await repo.lastPosition());
        await repo.shiftPositions(list.position, position);
      }
      await repo.update(list.id, {
        ...changes,
        ...(position === undefined ? {} : { position }),
        ...(archived === undefined ? {} : { archived_at: archived ? new Date() : null }),
      });
    });
    return this.get(uuid);
  }

  /** Deletes an empty list (its slot closes); archives one that holds tasks (see the module comment). */
  async remove(
    uuid: string,
    ifMatch?: string,
  ): Promise<{ outcome: 'deleted' | 'archived'; list: ListBody | null }> {
    const outcome = await inTransaction(this.db, async (trx) => {
      const repo = this.repo(trx);
      await repo.lockPositions();
      const list = await repo.lock(uuid);
      if (!list) throw problems.notFound('list', uuid);
      await checkVersion(trx, 'lists', uuid, ifMatch);
      if (await repo.hasTasks(list.id)) {
        await repo.update(list.id, { archived_at: new Date() });
        return 'archived' as const;
      }
      await repo.delete(list.id);
      await repo.closeGap(list.position);
      return 'deleted' as const;
    });
    return { outcome, list: outcome === 'archived' ? await this.get(uuid) : null };
  }
}
