/**
 * `GET /tasks/export`: the filtered tasks as CSV, streamed in batches of 1,000 read by keyset (id), so
 * 100k tasks never sit in memory at once and no batch re-scans the ones before it (OFFSET would).
 * Same CSV dialect as the user export (src/routes/users/csv.ts: `;`, BOM, CRLF, formula cells
 * neutralised); multi-valued cells (assignees, tags) are joined with `, `.
 */
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { toCsv } from '../users/csv.ts';
import type { TodoDb } from './tables.ts';
import { type TaskFilters, taskFilter } from './task-filters.ts';

const BATCH = 1_000;

export const EXPORT_COLUMNS = [
  'uuid',
  'list',
  'title',
  'description',
  'status',
  'priority',
  'due_at',
  'completed_at',
  'position',
  'author',
  'assignees',
  'tags',
  'created_at',
  'updated_at',
] as const;

const iso = (date: Date | null) => (date === null ? '' : date.toISOString());

function batch(db: TodoDb, filters: TaskFilters, afterId: string) {
  return db
    .selectFrom('tasks as t')
    .leftJoin('lists as l', 'l.id', 't.list_id')
    .innerJoin('users as a', 'a.id', 't.author_id')
    .select((eb) => [
      't.id',
      't.uuid',
      'l.name as list',
      't.title',
      't.description',
      't.status',
      't.priority',
      't.due_at',
      't.completed_at',
      't.position',
      'a.email as author',
      eb
        .selectFrom('task_assignees as ta')
        .innerJoin('users as u', 'u.id', 'ta.user_id')
        .select(sql<string>`string_agg(u.email, ', ' ORDER BY u.email)`.as('emails'))
        .whereRef('ta.task_id', '=', 't.id')
        .as('assignees'),
      eb
        .selectFrom('task_tags as tt')
        .innerJoin('tags as g', 'g.id', 'tt.tag_id')
        .select(sql<string>`string_agg(g.name, ', ' ORDER BY g.name)`.as('names'))
        .whereRef('tt.task_id', '=', 't.id')
        .as('tags'),
      't.created_at',
      't.updated_at',
    ])
    .where((eb) => eb.and([taskFilter(eb, filters), eb('t.id', '>', afterId)]))
    .orderBy('t.id')
    .limit(BATCH)
    .execute();
}

type Batch = Awaited<ReturnType<typeof batch>>;

function csvRows(rows: Batch): string {
  const cells = rows.map((row) => [
    row.uuid,
    row.list ?? '',
    row.title,
    row.description,
    row.status,
    row.priority,
    iso(row.due_at),
    iso(row.completed_at),
    String(row.position),
    row.author,
    row.assignees ?? '',
    row.tags ?? '',
    iso(row.created_at),
    iso(row.updated_at),
  ]);
  // toCsv starts every chunk with a byte-order mark; only the first one (the header) keeps it.
  return toCsv(cells).slice(1);
}

async function* csvChunks(db: TodoDb, filters: TaskFilters, first: Batch): AsyncGenerator<string> {
  yield toCsv([[...EXPORT_COLUMNS]]);
  let rows = first;
  for (;;) {
    if (rows.length === 0) return;
    yield csvRows(rows);
    if (rows.length < BATCH) return;
    rows = await batch(db, filters, rows[rows.length - 1]!.id);
  }
}

/**
 * Reads the first batch BEFORE the response starts: a query the database refuses (a NUL byte in the
 * search text, the database away) then becomes a proper problem+json answer instead of a 200 whose body
 * is cut off half-way.
 */
export async function exportTasks(db: TodoDb, filters: TaskFilters): Promise<Readable> {
  const first = await batch(db, filters, '0');
  return Readable.from(csvChunks(db, filters, first));
}
