/**
 * Reading tasks with everything a client shows: list uuid, author uuid, tags and assignees, as the JSON
 * the API answers, built by PostgreSQL in the statement that finds the tasks.
 */

import { sql } from 'kysely';
import { ISO_TIMESTAMP_FORMAT } from '../../db/hosts.ts';
import { QueryTemplate } from '../../db/query-template.ts';
import type { TodoDb } from './tables.ts';
import { SORT_COLUMNS, type SortOrder, type TaskFilters, type TaskSort, taskFilter } from './task-filters.ts';

/** What shapes the SQL of a read beyond its filters: the whitelisted sort and its direction. */
export interface TaskOrder {
  sort: TaskSort;
  order: SortOrder;
}

/** The request values of a read (each becomes a bound parameter). */
export interface TaskSelection {
  filters: TaskFilters;
  offset: number;
  limit: number;
}

/** A task as the API answers it (schemas.ts `TaskBody`), as JSON text made by PostgreSQL. */
export type TaskJsonText = string;

/** `ref` as `2026-11-26T13:30:41.383Z`, the text `Date.toISOString()` gives (`isoSql`). */
const iso = (ref: string) =>
  sql<string | null>`to_char(${sql.ref(ref)} AT TIME ZONE 'UTC', ${sql.raw(ISO_TIMESTAMP_FORMAT)})`;

/**
 * The answer bodies of one page, as the rows of a subquery `b` sorted like the page: the columns are the
 * fields of `TaskBody` in its order, so `json_agg(b)` / `row_to_json(b)` is the API's JSON (compact, keys
 * in order, timestamps as the API writes them). PostgreSQL reads the page (`p`: filtered, sorted, limited)
 * and then the tags and assignees of all its tasks at once (`pa`, `pt`, one join each, grouped by task):
 * correlated subqueries per task cost twice as much (1.7 vs 0.9 ms for 50 tasks, bench/analysis.md).
 */
function taskBodies(db: TodoDb, { sort, order: direction }: TaskOrder, selection: TaskSelection) {
  const column = SORT_COLUMNS[sort];
  return db
    .with('p', (qc) =>
      qc
        .selectFrom('tasks as t')
        .where((eb) => taskFilter(eb, selection.filters))
        .selectAll('t')
        // Tasks without a due date come last in both directions: "no date" is never the most urgent.
        .orderBy(`t.${column}`, (ob) => (direction === 'asc' ? ob.asc() : ob.desc()).nullsLast())
        .orderBy('t.id', direction)
        .offset(selection.offset)
        .limit(selection.limit),
    )
    .with('pa', (qc) =>
      qc
        .selectFrom('task_assignees as ta')
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('users as u')
              .select(['u.uuid', 'u.email', 'u.first_name', 'u.last_name'])
              .whereRef('u.id', '=', 'ta.user_id')
              .as('x'),
          (join) => join.onTrue(),
        )
        .select(['ta.task_id', sql<unknown>`json_agg(x ORDER BY x.email)`.as('j')])
        .where('ta.task_id', 'in', (eb) => eb.selectFrom('p').select('p.id'))
        .groupBy('ta.task_id'),
    )
    .with('pt', (qc) =>
      qc
        .selectFrom('task_tags as tt')
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('tags as g')
              .select(['g.uuid', 'g.name', 'g.color'])
              .whereRef('g.id', '=', 'tt.tag_id')
              .as('x'),
          (join) => join.onTrue(),
        )
        .select(['tt.task_id', sql<unknown>`json_agg(x ORDER BY x.name)`.as('j')])
        .where('tt.task_id', 'in', (eb) => eb.selectFrom('p').select('p.id'))
        .groupBy('tt.task_id'),
    )
    .selectFrom((qc) =>
      qc
        .selectFrom('p')
        .leftJoin('lists as l', 'l.id', 'p.list_id')
        .innerJoin('users as a', 'a.id', 'p.author_id')
        .leftJoin('pa', 'pa.task_id', 'p.id')
        .leftJoin('pt', 'pt.task_id', 'p.id')
        .select([
          'p.uuid',
          'l.uuid as list_uuid',
          'p.title',
          'p.description',
          'p.status',
          'p.priority',
          iso('p.due_at').as('due_at'),
          iso('p.completed_at').as('completed_at'),
          'p.position',
          'a.uuid as author_uuid',
          sql<unknown>`coalesce(pa.j, '[]')`.as('assignees'),
          sql<unknown>`coalesce(pt.j, '[]')`.as('tags'),
          iso('p.created_at').as('created_at'),
          iso('p.updated_at').as('updated_at'),
          iso('p.deleted_at').as('deleted_at'),
          'p.version',
        ])
        // The CTE's order does not survive the joins: the same whitelist order again, on the page rows.
        .orderBy(`p.${column}`, (ob) => (direction === 'asc' ? ob.asc() : ob.desc()).nullsLast())
        .orderBy('p.id', direction)
        .as('b'),
    );
}

/**
 * One page and the number of tasks matching the filters, in ONE prepared statement whatever the page size
 * (no N+1; test/todo/tasks-queries.test.ts counts). The items come back as the JSON text of the answer's
 * `items` array, so the server neither parses dates nor serialises 50 objects (the task page cost the
 * server ~2 ms of CPU per request that way, BENCHMARKS.md). `json_agg` reads the sorted subquery `b`
 * directly (no join, no grouping in between), which keeps its order (PostgREST builds its answers the
 * same way). An aggregate always yields one row, so the total is there even past the last page.
 */
const TASK_PAGE = new QueryTemplate<TaskOrder, TaskSelection>((db, order, selection) =>
  taskBodies(db, order, selection).select((eb) => [
    // The total as its own aggregate rather than `count(*) over ()` on the page: a window count makes
    // the page materialise every matching row (whole rows, spilling to disk at 100k tasks: 133 ms),
    // while a bare count reads only the index and the page stops after `limit` rows in index order.
    eb
      .selectFrom('tasks as t')
      .where((w) => taskFilter(w, selection.filters))
      .select(sql<string>`count(*)`.as('total'))
      .$asScalar()
      .$notNull()
      .as('total'),
    sql<string>`coalesce(json_agg(b), '[]')::text`.as('items'),
  ]),
);

/** One task's answer (`row_to_json` of the same rows). */
const ONE_TASK = new QueryTemplate<TaskOrder, TaskSelection>((db, order, selection) =>
  taskBodies(db, order, selection).select(sql<string>`row_to_json(b)::text`.as('body')),
);

/** The SQL and parameters of a page in `schema` (EXPLAIN in test/todo/search-index.test.ts). */
export function taskPageStatement(db: TodoDb, schema: string, order: TaskOrder, selection: TaskSelection) {
  return TASK_PAGE.statement(db, schema, order, selection);
}

export async function readTasks(
  db: TodoDb,
  schema: string,
  order: TaskOrder,
  selection: TaskSelection,
): Promise<{ items: string; total: number }> {
  const [row] = await TASK_PAGE.rows<{ items: string; total: string }>(db, schema, order, selection);
  return { items: row?.items ?? '[]', total: Number(row?.total ?? 0) };
}

/** One live task (or, with `deleted`, one soft-deleted task) by uuid, as its answer's JSON text. */
export async function readTask(
  db: TodoDb,
  schema: string,
  uuid: string,
  deleted = false,
): Promise<TaskJsonText | undefined> {
  const [row] = await ONE_TASK.rows<{ body: string }>(
    db,
    schema,
    { sort: 'created_at', order: 'asc' },
    { filters: { uuid, deleted }, offset: 0, limit: 1 },
  );
  return row?.body;
}
