/**
 * SQL of `lists` (tenant schema). Sorting from a whitelist map, directions from an enum.
 */
import { sql } from 'kysely';
import type { TodoDb } from '../tasks/tables.ts';

export const LIST_SORTS = ['position', 'name', 'created_at'] as const;
export type ListSort = (typeof LIST_SORTS)[number];

const SORT_COLUMNS = {
  position: 'l.position',
  name: 'l.name',
  created_at: 'l.created_at',
} as const satisfies Record<ListSort, string>;

export interface ListRow {
  id: string;
  uuid: string;
  name: string;
  description: string;
  color: string | null;
  position: number;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
  version: number;
  task_count: number;
}

export interface ListChanges {
  name?: string;
  description?: string;
  color?: string | null;
  position?: number;
  archived_at?: Date | null;
}

export class ListsRepository {
  constructor(
    private readonly db: TodoDb,
    private readonly schema: string,
  ) {}

  private select() {
    return this.db
      .selectFrom('lists as l')
      .select((eb) => [
        'l.id',
        'l.uuid',
        'l.name',
        'l.description',
        'l.color',
        'l.position',
        'l.archived_at',
        'l.created_at',
        'l.updated_at',
        'l.version',
        eb
          .selectFrom('tasks as t')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('t.list_id', '=', 'l.id')
          .where('t.deleted_at', 'is', null)
          .$asScalar()
          .$notNull()
          .as('task_count'),
      ]);
  }

  async page(options: {
    archived: boolean;
    sort: ListSort;
    order: 'asc' | 'desc';
    offset: number;
    limit: number;
  }): Promise<{ rows: ListRow[]; total: number }> {
    const rows = await this.select()
      .select(sql<string>`count(*) over ()`.as('total'))
      .where((eb) => (options.archived ? eb.lit(true) : eb('l.archived_at', 'is', null)))
      .orderBy(SORT_COLUMNS[options.sort], options.order)
      .orderBy('l.id', options.order)
      .offset(options.offset)
      .limit(options.limit)
      .execute();
    const total =
      rows.length > 0 || options.offset === 0
        ? Number(rows[0]?.total ?? 0)
        : await this.count(options.archived);
    return { rows: rows.map(({ total: _total, ...row }) => row), total };
  }

  private async count(archived: boolean): Promise<number> {
    const row = await this.db
      .selectFrom('lists')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where((eb) => (archived ? eb.lit(true) : eb('archived_at', 'is', null)))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  find(uuid: string): Promise<ListRow | undefined> {
    return this.select().where('l.uuid', '=', uuid).executeTakeFirst();
  }

  /** The list, its row locked for the rest of the transaction (delete vs. a concurrent task insert). */
  async lock(uuid: string): Promise<{ id: string; position: number } | undefined> {
    return this.db
      .selectFrom('lists')
      .select(['id', 'position'])
      .where('uuid', '=', uuid)
      .forUpdate()
      .executeTakeFirst();
  }

  /** Any task at all (deleted ones too: they can be restored into this list). */
  async hasTasks(id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('tasks')
      .select('id')
      .where('list_id', '=', id)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async insert(list: {
    name: string;
    description: string;
    color: string | null;
    createdBy: string;
  }): Promise<string> {
    const row = await this.db
      .insertInto('lists')
      .values((eb) => ({
        name: list.name,
        description: list.description,
        color: list.color,
        created_by: list.createdBy,
        position: eb.selectFrom('lists').select(sql<number>`coalesce(max(position), 0) + 1`.as('next')),
      }))
      .returning('uuid')
      .executeTakeFirstOrThrow();
    return row.uuid;
  }

  async update(id: string, changes: ListChanges): Promise<void> {
    await this.db
      .updateTable('lists')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('lists').where('id', '=', id).execute();
  }

  /** Serialises changes of lists' positions (see src/routes/tasks/task-locks.ts for why and the order). */
  async lockPositions(): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${this.schema}:lists`}, 0))`.execute(this.db);
  }

  /** The last position (0 without lists); under the position lock it is the number of lists. */
  async lastPosition(): Promise<number> {
    const row = await this.db
      .selectFrom('lists')
      .select(sql<number>`coalesce(max(position), 0)::int`.as('last'))
      .executeTakeFirstOrThrow();
    return row.last;
  }

  /** Closes the slot of a deleted list. */
  async closeGap(position: number): Promise<void> {
    await this.db
      .updateTable('lists')
      .set({ position: sql`position - 1` })
      .where('position', '>', position)
      .execute();
  }

  /** Opens slot `to` for the list at `from`: the lists between move by one (1..n, no gaps). */
  async shiftPositions(from: number, to: number): Promise<void> {
    if (from === to) return;
    const query = this.db.updateTable('lists');
    if (to < from)
      await query
        .set({ position: sql`position + 1` })
        .where('position', '>=', to)
        .where('position', '<', from)
        .execute();
    else
      await query
        .set({ position: sql`position - 1` })
        .where('position', '>', from)
        .where('position', '<=', to)
        .execute();
  }
}
