/**
 * The "4,200-shape attack" of issue 15: GET /tasks/ requests of one user, each with a different filter
 * shape (tag list length, statuses, priorities, sort, order, overdue, trash). Before the statement limit
 * each shape became one more named prepared statement on every pooled connection it reached.
 */
import { randomUUID } from 'node:crypto';
import { TASK_PRIORITIES, TASK_STATUSES } from '../src/routes/tasks/tables.ts';
import { TASK_SORTS } from '../src/routes/tasks/task-filters.ts';

export interface Shape {
  tags: number;
  statuses: number;
  priorities: number;
  sort: (typeof TASK_SORTS)[number];
  order: 'asc' | 'desc';
  overdue: boolean | undefined;
  deleted: boolean;
}

/** Shape number `i` (mixed radix over every choice; distinct for i < 25,200). */
export function shape(i: number): Shape {
  let rest = i;
  const pick = (n: number) => {
    const value = rest % n;
    rest = Math.floor(rest / n);
    return value;
  };
  return {
    tags: pick(21),
    statuses: pick(TASK_STATUSES.length + 1),
    priorities: pick(TASK_PRIORITIES.length + 1),
    sort: TASK_SORTS[pick(TASK_SORTS.length)] ?? 'created_at',
    order: pick(2) === 0 ? 'asc' : 'desc',
    overdue: [undefined, true, false][pick(3)],
    deleted: pick(2) === 1,
  };
}

/** The query string of a shape (tag uuids are random: the shape, not the rows, is what costs). */
export function shapeUrl(s: Shape): string {
  const query = new URLSearchParams({ sort: s.sort, order: s.order });
  for (let k = 0; k < s.tags; k++) query.append('tag', randomUUID());
  for (const status of TASK_STATUSES.slice(0, s.statuses)) query.append('status', status);
  for (const priority of TASK_PRIORITIES.slice(0, s.priorities)) query.append('priority', priority);
  if (s.overdue !== undefined) query.set('overdue', String(s.overdue));
  if (s.deleted) query.set('deleted', 'true');
  return `/tasks/?${query}`;
}
