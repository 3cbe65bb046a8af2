/** Calendar arithmetic in the browser's local time zone (what a person means by "this week"). */

export type WeekStart = 'monday' | 'sunday';

/** YYYY-MM-DD of a local date. */
export function isoDay(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function startOfDay(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days);
}

/** The week holding `now`: [start, end) at local midnight. */
export function weekRange(now: Date, weekStart: WeekStart = 'monday'): { start: Date; end: Date } {
  const first = weekStart === 'monday' ? 1 : 0;
  const back = (now.getDay() - first + 7) % 7;
  const start = addDays(startOfDay(now), -back);
  return { start, end: addDays(start, 7) };
}

/** The days a month view shows: whole weeks from the one holding the 1st to the one holding the last day. */
export function monthGrid(year: number, month: number, weekStart: WeekStart = 'monday'): Date[] {
  const first = new Date(year, month, 1);
  const start = weekRange(first, weekStart).start;
  const last = new Date(year, month + 1, 0);
  const end = weekRange(last, weekStart).end;
  const days: Date[] = [];
  for (let day = start; day < end; day = addDays(day, 1)) days.push(day);
  return days;
}

export function weekdayNames(weekStart: WeekStart = 'monday', locale?: string): string[] {
  const format = new Intl.DateTimeFormat(locale, { weekday: 'short' });
  // 2024-01-01 was a Monday.
  const offset = weekStart === 'monday' ? 0 : -1;
  return Array.from({ length: 7 }, (_, i) => format.format(new Date(2024, 0, 1 + i + offset)));
}

/** `<input type="datetime-local">` value ↔ ISO instant. */
export function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  return `${isoDay(date)}T${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

export function fromLocalInput(value: string): string | null {
  return value ? new Date(value).toISOString() : null;
}

export function formatDue(iso: string | null, now = new Date()): string {
  if (!iso) return '';
  const date = new Date(iso);
  const days = Math.round((startOfDay(date).getTime() - startOfDay(now).getTime()) / 86_400_000);
  if (days === 0) return 'today';
  if (days === 1) return 'tomorrow';
  if (days === -1) return 'yesterday';
  return date.toLocaleDateString(undefined, {
    month: 'short',
    day: 'numeric',
    year: date.getFullYear() === now.getFullYear() ? undefined : 'numeric',
  });
}
