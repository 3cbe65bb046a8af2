/**
 * SQL of `tags` and their links (tenant schema).
 */
import { sql } from 'kysely';
import type { TodoDb } from '../tasks/tables.ts';
import { containsPattern } from '../users/users-repository.ts';

export interface TagRow {
  id: string;
  uuid: string;
  name: string;
  color: string | null;
  task_count: number;
  created_at: Date;
  updated_at: Date;
  version: number;
}

export class TagsRepository {
  constructor(private readonly db: TodoDb) {}

  private select() {
    return this.db
      .selectFrom('tags as g')
      .select((eb) => [
        'g.id',
        'g.uuid',
        'g.name',
        'g.color',
        'g.created_at',
        'g.updated_at',
        'g.version',
        eb
          .selectFrom('task_tags as tt')
          .innerJoin('tasks as t', 't.id', 'tt.task_id')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('tt.tag_id', '=', 'g.id')
          .where('t.deleted_at', 'is', null)
          .$asScalar()
          .$notNull()
          .as('task_count'),
      ]);
  }

  async page(options: {
    search?: string;
    order: 'asc' | 'desc';
    offset: number;
    limit: number;
  }): Promise<{ rows: TagRow[]; total: number }> {
    const search = options.search;
    const rows = await this.select()
      .select(sql<string>`count(*) over ()`.as('total'))
      .where((eb) => (search ? eb('g.name', 'ilike', containsPattern(search)) : eb.lit(true)))
      .orderBy(sql`lower(g.name)`, options.order)
      .orderBy('g.id', options.order)
      .offset(options.offset)
      .limit(options.limit)
      .execute();
    return { rows: rows.map(({ total: _total, ...row }) => row), total: Number(rows[0]?.total ?? 0) };
  }

  find(uuid: string): Promise<TagRow | undefined> {
    return this.select().where('g.uuid', '=', uuid).executeTakeFirst();
  }

  async lock(uuid: string): Promise<{ id: string } | undefined> {
    return this.db.selectFrom('tags').select('id').where('uuid', '=', uuid).forUpdate().executeTakeFirst();
  }

  async insert(tag: { name: string; color: string | null }): Promise<string> {
    const row = await this.db.insertInto('tags').values(tag).returning('uuid').executeTakeFirstOrThrow();
    return row.uuid;
  }

  async update(id: string, changes: { name?: string; color?: string | null }): Promise<void> {
    await this.db
      .updateTable('tags')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Tasks (live or deleted) carrying the tag. */
  async usage(id: string): Promise<number> {
    const row = await this.db
      .selectFrom('task_tags')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('tag_id', '=', id)
      .executeTakeFirstOrThrow();
    return row.n;
  }

  /**
   * Unlinks the tag from every task, recording an `updated` event (tag set before → after) on each, in
   * two statements whatever the number of tasks. Uuids sorted as in task-changes.ts.
   */
  async unlinkAll(id: string, actorId: string): Promise<void> {
    await this.db
      .insertInto('change_events')
      .columns(['entity', 'entity_id', 'actor_id', 'action', 'before', 'after'])
      .expression(
        this.db
          .selectFrom('task_tags as tt')
          .select((eb) => {
            // Builder subqueries (not raw SQL) so withSchema qualifies task_tags and tags.
            const tagSet = (exclude: boolean) =>
              eb
                .selectFrom('task_tags as x')
                .innerJoin('tags as g', 'g.id', 'x.tag_id')
                .select(
                  sql<string>`jsonb_build_object('tags', coalesce(jsonb_agg(g.uuid::text ORDER BY g.uuid::text), '[]'))`.as(
                    'set',
                  ),
                )
                .whereRef('x.task_id', '=', 'tt.task_id')
                .where((inner) => (exclude ? inner('x.tag_id', '<>', id) : inner.lit(true)))
                .$asScalar();
            return [
              sql<string>`'task'`.as('entity'),
              'tt.task_id',
              sql<string>`${actorId}::bigint`.as('actor_id'),
              sql<string>`'updated'`.as('action'),
              tagSet(false).as('before'),
              tagSet(true).as('after'),
            ];
          })
          .where('tt.tag_id', '=', id),
      )
      .execute();
    await this.db.deleteFrom('task_tags').where('tag_id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('tags').where('id', '=', id).execute();
  }
}
