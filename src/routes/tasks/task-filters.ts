/**
 * The filters and sorts of `GET /tasks/` (also used by the export and the stats), as Kysely expressions.
 * Nothing from the request reaches SQL as text: ids and dates are bound parameters, sort columns come
 * from the whitelist map below and directions are the enum `asc | desc`.
 */
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { TaskPriority, TaskStatus, TasksTable, TodoTables } from './tables.ts';

/** The query scope every task listing runs in: `tasks as t` plus the other tables for subqueries. */
export type TaskScope = TodoTables & { t: TasksTable };

export interface TaskFilters {
  /** A list's uuid, or `null` for the inbox. */
  list?: string | null;
  status?: TaskStatus[];
  priority?: TaskPriority[];
  /** A user's uuid (the caller's when the client sent `me`). */
  assignee?: string;
  /** Tag uuids: tasks carrying any of them. */
  tag?: string[];
  /** `due_at < due_before` (exclusive). */
  dueBefore?: Date;
  /** `due_at >= due_after` (inclusive). */
  dueAfter?: Date;
  /** true: due in the past and not done; false: everything else. */
  overdue?: boolean;
  /**
   * Case-insensitive substring of title or description (trigram index), as an ILIKE pattern made by
   * `containsPattern` (the client's %, _ and \ taken literally).
   */
  searchPattern?: string;
  /** One task by uuid (the single-task read). */
  uuid?: string;
  /** true: only soft-deleted tasks (the trash); default: only live ones. */
  deleted?: boolean;
}

export const TASK_SORTS = ['created_at', 'due_at', 'priority', 'title', 'position'] as const;
export type TaskSort = (typeof TASK_SORTS)[number];
export type SortOrder = 'asc' | 'desc';

/** Sort whitelist: the API name → a column of `t` (priority sorts by its rank, not alphabetically). */
export const SORT_COLUMNS = {
  created_at: 'created_at',
  due_at: 'due_at',
  priority: 'priority_rank',
  title: 'title',
  position: 'position',
} as const satisfies Record<TaskSort, keyof TasksTable>;

/**
 * The search expression; identical to the indexed expression of `tasks_search_trgm_idx`
 * (tenant revision 7f315a3921b2), or the planner cannot use the index.
 */
const searchable = sql<string>`(t.title || ' ' || t.description)`;

export function taskFilter(eb: ExpressionBuilder<TaskScope, 't'>, filters: TaskFilters): Expression<SqlBool> {
  const where: Expression<SqlBool>[] = [
    filters.deleted ? eb('t.deleted_at', 'is not', null) : eb('t.deleted_at', 'is', null),
  ];
  if (filters.list === null) where.push(eb('t.list_id', 'is', null));
  else if (filters.list !== undefined)
    where.push(
      eb('t.list_id', '=', eb.selectFrom('lists').select('lists.id').where('lists.uuid', '=', filters.list)),
    );
  if (filters.status?.length) where.push(eb('t.status', 'in', filters.status));
  if (filters.priority?.length) where.push(eb('t.priority', 'in', filters.priority));
  if (filters.assignee !== undefined) {
    const assignee = filters.assignee;
    where.push(
      eb.exists(
        eb
          .selectFrom('task_assignees as ta')
          .innerJoin('users as au', 'au.id', 'ta.user_id')
          .select(sql.lit(1).as('one'))
          .whereRef('ta.task_id', '=', 't.id')
          .where('au.uuid', '=', assignee),
      ),
    );
  }
  if (filters.tag?.length) {
    const tags = filters.tag;
    where.push(
      eb.exists(
        eb
          .selectFrom('task_tags as tt')
          .innerJoin('tags as tg', 'tg.id', 'tt.tag_id')
          .select(sql.lit(1).as('one'))
          .whereRef('tt.task_id', '=', 't.id')
          .where('tg.uuid', 'in', tags),
      ),
    );
  }
  if (filters.dueBefore) where.push(eb('t.due_at', '<', filters.dueBefore));
  if (filters.dueAfter) where.push(eb('t.due_at', '>=', filters.dueAfter));
  if (filters.overdue === true)
    where.push(eb.and([eb('t.due_at', '<', sql<Date>`now()`), eb('t.status', '<>', 'done')]));
  if (filters.overdue === false)
    where.push(
      eb.or([
        eb('t.due_at', 'is', null),
        eb('t.due_at', '>=', sql<Date>`now()`),
        eb('t.status', '=', 'done'),
      ]),
    );
  if (filters.searchPattern !== undefined) where.push(eb(searchable, 'ilike', filters.searchPattern));
  if (filters.uuid !== undefined) where.push(eb('t.uuid', '=', filters.uuid));
  return eb.and(where);
}
