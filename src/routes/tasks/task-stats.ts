/**
 * `GET /tasks/stats`: counts by status and priority, overdue, and tasks completed per day over a date
 * range. Days are the caller's calendar days (their `tz`), so "completed today" means their today. Two
 * queries, run concurrently; days without completions are filled with 0 here rather than in SQL.
 */
import { sql } from 'kysely';
import { problems } from '../../http/problem.ts';
import type { StatsBody } from './schemas.ts';
import type { TodoDb } from './tables.ts';
import { type TaskFilters, taskFilter } from './task-filters.ts';

const DAY_MS = 86_400_000;
/** Longest range of `completed_per_day`: a year, leap day included. */
export const MAX_STATS_DAYS = 366;
const DEFAULT_DAYS = 30;

/** YYYY-MM-DD of an instant in a time zone. */
export function dayIn(tz: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at);
}

const FIRST_DAY = '0001-01-01';
/** The later of two YYYY-MM-DD days (the text sorts like the date for years 1–9999). */
const maxDay = (a: string, b: string) => (a > b ? a : b);
const addDays = (day: string, days: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/** The range to report: defaults, order and length checked (422 otherwise). */
export function statsRange(tz: string, from: string | undefined, to: string | undefined, now = new Date()) {
  const last = to ?? dayIn(tz, now);
  // The default start never goes before year 1 (dates are limited to years 1–9999, src/http/validation.ts).
  const first = from ?? maxDay(addDays(last, -(DEFAULT_DAYS - 1)), FIRST_DAY);
  const days = (Date.parse(last) - Date.parse(first)) / DAY_MS + 1;
  if (days < 1)
    throw problems.unprocessable('from must not be after to', [
      { path: '/query/from', message: 'is after to' },
    ]);
  if (days > MAX_STATS_DAYS)
    throw problems.unprocessable(`The range is longer than ${MAX_STATS_DAYS} days`, [
      { path: '/query/from', message: `at most ${MAX_STATS_DAYS} days before to` },
    ]);
  return { from: first, to: last, days };
}

export async function taskStats(
  db: TodoDb,
  filters: TaskFilters,
  range: { from: string; to: string; days: number },
  tz: string,
): Promise<StatsBody> {
  const count = (condition: ReturnType<typeof sql>) => sql<string>`count(*) FILTER (WHERE ${condition})`;
  const totals = db
    .selectFrom('tasks as t')
    .where((eb) => taskFilter(eb, filters))
    .select([
      count(sql`t.status = 'todo'`).as('todo'),
      count(sql`t.status = 'in_progress'`).as('in_progress'),
      count(sql`t.status = 'done'`).as('done'),
      count(sql`t.priority = 'low'`).as('low'),
      count(sql`t.priority = 'medium'`).as('medium'),
      count(sql`t.priority = 'high'`).as('high'),
      count(sql`t.priority = 'urgent'`).as('urgent'),
      count(sql`t.due_at < now() AND t.status <> 'done'`).as('overdue'),
      sql<string>`count(*)`.as('total'),
    ])
    .executeTakeFirstOrThrow();
  // Day boundaries in the caller's zone: [from 00:00, to+1 00:00) local time, as instants.
  const day = sql<string>`to_char(t.completed_at AT TIME ZONE ${tz}, 'YYYY-MM-DD')`;
  const perDay = db
    .selectFrom('tasks as t')
    .where((eb) => taskFilter(eb, filters))
    .where('t.status', '=', 'done')
    .where('t.completed_at', '>=', sql<Date>`(${range.from}::date)::timestamp AT TIME ZONE ${tz}`)
    .where('t.completed_at', '<', sql<Date>`(${range.to}::date + 1)::timestamp AT TIME ZONE ${tz}`)
    .select([day.as('day'), sql<string>`count(*)`.as('n')])
    // By position: the same expression written twice would bind the zone as two parameters, and
    // PostgreSQL would not see the GROUP BY and the select list as the same expression.
    .groupBy(sql`1`)
    .execute();
  const [row, days] = await Promise.all([totals, perDay]);
  const byDay = new Map(days.map((d) => [d.day, Number(d.n)]));
  const n = (value: string) => Number(value);
  return {
    by_status: { todo: n(row.todo), in_progress: n(row.in_progress), done: n(row.done) },
    by_priority: { low: n(row.low), medium: n(row.medium), high: n(row.high), urgent: n(row.urgent) },
    overdue: n(row.overdue),
    total: n(row.total),
    completed_per_day: Array.from({ length: range.days }, (_, i) => {
      const date = addDays(range.from, i);
      return { date, count: byDay.get(date) ?? 0 };
    }),
    from: range.from,
    to: range.to,
    tz,
  };
}
