/**
 * The task list's filters live in the address (`/tasks?status=open&list=…`), so a reload, the back
 * button or a shared link shows the same tasks. These two functions are the only translation between
 * the address and GET /tasks/.
 */
import type { TaskQuery } from '../api/types.ts';

export interface TaskFilters {
  list: string; // '' = all lists, 'inbox', or a list uuid
  status: 'open' | 'todo' | 'in_progress' | 'done' | 'all';
  priority: '' | 'low' | 'medium' | 'high' | 'urgent';
  assignee: '' | 'me';
  tag: string;
  search: string;
  overdue: boolean;
  // The API's parameters have defaults, so they are optional there; the page always sets them.
  sort: NonNullable<TaskQuery['sort']>;
  order: NonNullable<TaskQuery['order']>;
  page: number;
}

export const DEFAULT_FILTERS: TaskFilters = {
  list: '',
  status: 'open',
  priority: '',
  assignee: '',
  tag: '',
  search: '',
  overdue: false,
  sort: 'position',
  order: 'asc',
  page: 1,
};

const SORTS: TaskFilters['sort'][] = ['created_at', 'due_at', 'priority', 'title', 'position'];
const STATUSES: TaskFilters['status'][] = ['open', 'todo', 'in_progress', 'done', 'all'];
const PRIORITIES: TaskFilters['priority'][] = ['', 'low', 'medium', 'high', 'urgent'];

type RouteQuery = Record<string, string | null | (string | null)[] | undefined>;

const one = (value: RouteQuery[string]): string => (Array.isArray(value) ? (value[0] ?? '') : (value ?? ''));

export function filtersFromRoute(query: RouteQuery): TaskFilters {
  const pick = <T extends string>(value: string, allowed: readonly T[], fallback: T): T =>
    (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
  const page = Number.parseInt(one(query.page), 10);
  return {
    list: one(query.list),
    status: pick(one(query.status), STATUSES, DEFAULT_FILTERS.status),
    priority: pick(one(query.priority), PRIORITIES, ''),
    assignee: one(query.assignee) === 'me' ? 'me' : '',
    tag: one(query.tag),
    search: one(query.search),
    overdue: one(query.overdue) === 'true',
    sort: pick(one(query.sort), SORTS, DEFAULT_FILTERS.sort),
    order: one(query.order) === 'desc' ? 'desc' : 'asc',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

/** Only what differs from the defaults goes into the address. */
export function filtersToRoute(filters: TaskFilters): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(filters) as [
    keyof TaskFilters,
    TaskFilters[keyof TaskFilters],
  ][]) {
    if (value !== DEFAULT_FILTERS[key]) query[key] = String(value);
  }
  return query;
}

export function filtersToApi(filters: TaskFilters, size: number): TaskQuery {
  const status: TaskQuery['status'] =
    filters.status === 'open'
      ? ['todo', 'in_progress']
      : filters.status === 'all'
        ? undefined
        : [filters.status];
  return {
    page: filters.page,
    size,
    sort: filters.sort,
    order: filters.order,
    ...(filters.list ? { list: filters.list } : {}),
    ...(status ? { status } : {}),
    ...(filters.priority ? { priority: [filters.priority] } : {}),
    ...(filters.assignee ? { assignee: filters.assignee } : {}),
    ...(filters.tag ? { tag: [filters.tag] } : {}),
    ...(filters.search.trim() ? { search: filters.search.trim() } : {}),
    ...(filters.overdue ? { overdue: true } : {}),
  };
}

/**
 * Drag-and-drop reorder makes sense where the page shows one list in its stored order. Other filters may
 * hide tasks in between; the moved task still lands where the task it was dropped on was.
 */
export function canReorder(filters: TaskFilters): boolean {
  return filters.list !== '' && filters.sort === 'position' && filters.order === 'asc';
}
