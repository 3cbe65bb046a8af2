/**
 * The task timeline (`task_events`, append-only): read side. Events are written by the services in the
 * transaction of the change they record (tasks-repository.ts `appendEvents`, `insert`).
 */
import { sql } from 'kysely';
import type { EventBody } from './schemas.ts';
import type { TodoDb } from './tables.ts';

/** One page of a task's events, oldest first, with the total. */
export async function readEvents(
  db: TodoDb,
  taskId: string,
  offset: number,
  limit: number,
): Promise<{ items: EventBody[]; total: number }> {
  const rows = await db
    .selectFrom('task_events as e')
    .innerJoin('users as u', 'u.id', 'e.actor_id')
    .select([
      'e.action',
      'e.before',
      'e.after',
      'e.created_at',
      'u.uuid',
      'u.first_name',
      'u.last_name',
      sql<string>`count(*) over ()`.as('total'),
    ])
    .where('e.task_id', '=', taskId)
    .orderBy('e.id')
    .offset(offset)
    .limit(limit)
    .execute();
  const total = rows.length > 0 ? Number(rows[0]?.total) : await countEvents(db, taskId);
  const items = rows.map((row) => ({
    action: row.action,
    actor: { uuid: row.uuid, first_name: row.first_name, last_name: row.last_name },
    before: row.before ?? null,
    after: row.after ?? null,
    created_at: row.created_at.toISOString(),
  }));
  return { items, total };
}

async function countEvents(db: TodoDb, taskId: string): Promise<number> {
  const row = await db
    .selectFrom('task_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
