/**
 * Reading tasks with everything a client shows: list uuid, author uuid, tags and assignees.
 *
 * A page is ONE query whatever its size (no N+1): the filtered, sorted, limited page is a CTE (with the
 * total as a window count), and the outer query adds each row's list and author by join and its tags
 * and assignees as JSON arrays from correlated subqueries, which run only for the page's rows. A test
 * counts the queries of a 50-task page (test/todo/tasks-queries.test.ts).
 */

import type { ExpressionBuilder } from 'kysely';
import { type Expression, type SqlBool, sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { TaskColumns, TodoDb } from './tables.ts';
import { SORT_COLUMNS, type SortOrder, type TaskScope, type TaskSort } from './task-filters.ts';

export interface TagRef {
  uuid: string;
  name: string;
  color: string | null;
}

export interface UserRef {
  uuid: string;
  email: string;
  first_name: string;
  last_name: string;
}

export interface TaskRow extends TaskColumns {
  author_uuid: string;
  created_at: Date;
  updated_at: Date;
  tags: TagRef[];
  assignees: UserRef[];
}

export interface TaskQuery {
  where: (eb: ExpressionBuilder<TaskScope, 't'>) => Expression<SqlBool>;
  sort: TaskSort;
  order: SortOrder;
  offset: number;
  limit: number;
}

/** Rows of one page (or one task) and the total number of rows matching `where`. */
export async function readTasks(db: TodoDb, query: TaskQuery): Promise<{ rows: TaskRow[]; total: number }> {
  const column = SORT_COLUMNS[query.sort];
  const direction = query.order;
  const rows = await db
    .with('p', (qc) =>
      qc
        .selectFrom('tasks as t')
        .where(query.where)
        .selectAll('t')
        // Tasks without a due date come last in both directions: "no date" is never the most urgent.
        .orderBy(`t.${column}`, (ob) => (direction === 'asc' ? ob.asc() : ob.desc()).nullsLast())
        .orderBy('t.id', direction)
        .offset(query.offset)
        .limit(query.limit),
    )
    // The total as its own aggregate rather than `count(*) over ()` on the page: a window count makes
    // the page materialise every matching row (whole rows, spilling to disk at 100k tasks: 133 ms),
    // while a bare count reads only the index and the page stops after `limit` rows in index order.
    .with('c', (qc) =>
      qc.selectFrom('tasks as t').where(query.where).select(sql<string>`count(*)`.as('total')),
    )
    .selectFrom('p')
    .leftJoin('lists as l', 'l.id', 'p.list_id')
    .innerJoin('users as a', 'a.id', 'p.author_id')
    .select((eb) => [
      'p.id',
      'p.uuid',
      'p.list_id',
      'l.uuid as list_uuid',
      'p.title',
      'p.description',
      'p.status',
      'p.priority',
      'p.due_at',
      'p.completed_at',
      'p.position',
      'a.uuid as author_uuid',
      'p.created_at',
      'p.updated_at',
      'p.deleted_at',
      eb.selectFrom('c').select('c.total').$asScalar().$notNull().as('total'),
      jsonArrayFrom(
        eb
          .selectFrom('task_tags as tt')
          .innerJoin('tags as g', 'g.id', 'tt.tag_id')
          .select(['g.uuid', 'g.name', 'g.color'])
          .whereRef('tt.task_id', '=', 'p.id')
          .orderBy('g.name'),
      ).as('tags'),
      jsonArrayFrom(
        eb
          .selectFrom('task_assignees as ta')
          .innerJoin('users as u', 'u.id', 'ta.user_id')
          .select(['u.uuid', 'u.email', 'u.first_name', 'u.last_name'])
          .whereRef('ta.task_id', '=', 'p.id')
          .orderBy('u.email'),
      ).as('assignees'),
    ])
    // The CTE's order does not survive the join; the same whitelist order again, on the page rows only.
    .orderBy(`p.${column}`, (ob) => (direction === 'asc' ? ob.asc() : ob.desc()).nullsLast())
    .orderBy('p.id', direction)
    .execute();
  const total = Number(rows[0]?.total ?? 0);
  return { rows: rows.map(({ total: _total, ...row }) => row), total };
}

/** One live task (or, with `deleted`, one soft-deleted task) by uuid, with its details. */
export async function readTask(db: TodoDb, uuid: string, deleted = false): Promise<TaskRow | undefined> {
  const { rows } = await readTasks(db, {
    where: (eb) =>
      eb.and([
        eb('t.uuid', '=', uuid),
        deleted ? eb('t.deleted_at', 'is not', null) : eb('t.deleted_at', 'is', null),
      ]),
    sort: 'created_at',
    order: 'asc',
    offset: 0,
    limit: 1,
  });
  return rows[0];
}
