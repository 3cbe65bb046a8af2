/**
 * SQL of `comments` (tenant schema).
 */
import { sql } from 'kysely';
import type { TodoDb } from '../tasks/tables.ts';

export interface CommentRow {
  id: string;
  uuid: string;
  task_id: string;
  task_uuid: string;
  author_id: string;
  author_uuid: string;
  author_first_name: string;
  author_last_name: string;
  body: string;
  created_at: Date;
  updated_at: Date;
  version: number;
}

export class CommentsRepository {
  constructor(private readonly db: TodoDb) {}

  private select() {
    return this.db
      .selectFrom('comments as c')
      .innerJoin('tasks as t', 't.id', 'c.task_id')
      .innerJoin('users as u', 'u.id', 'c.author_id')
      .select([
        'c.id',
        'c.uuid',
        'c.task_id',
        't.uuid as task_uuid',
        'c.author_id',
        'u.uuid as author_uuid',
        'u.first_name as author_first_name',
        'u.last_name as author_last_name',
        'c.body',
        'c.created_at',
        'c.updated_at',
        'c.version',
      ])
      .where('c.deleted_at', 'is', null)
      .where('t.deleted_at', 'is', null);
  }

  async page(taskId: string, offset: number, limit: number): Promise<{ rows: CommentRow[]; total: number }> {
    const rows = await this.select()
      .select(sql<string>`count(*) over ()`.as('total'))
      .where('c.task_id', '=', taskId)
      .orderBy('c.id')
      .offset(offset)
      .limit(limit)
      .execute();
    return { rows: rows.map(({ total: _total, ...row }) => row), total: Number(rows[0]?.total ?? 0) };
  }

  /** A live comment of a live task, locked for the rest of the transaction (edit vs. delete). */
  find(uuid: string, lock = false): Promise<CommentRow | undefined> {
    const query = this.select().where('c.uuid', '=', uuid);
    return (lock ? query.forUpdate('c') : query).executeTakeFirst();
  }

  async insert(taskId: string, authorId: string, body: string): Promise<string> {
    const row = await this.db
      .insertInto('comments')
      .values({ task_id: taskId, author_id: authorId, body })
      .returning('uuid')
      .executeTakeFirstOrThrow();
    return row.uuid;
  }

  async update(id: string, body: string): Promise<void> {
    await this.db
      .updateTable('comments')
      .set({ body, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async softDelete(id: string): Promise<void> {
    await this.db
      .updateTable('comments')
      .set({ deleted_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }
}
