/**
 * The web app's logic that branches (web/src/lib): problem → field errors, retry timing, the task
 * filters ↔ address ↔ API translation, drag-and-drop reorder, calendar weeks, the timeline's words,
 * job polling and Idempotency-Keys. Pure functions, so they run here without a browser.
 */
import { describe, expect, it } from 'vitest';
import { addDays, isoDay, monthGrid, weekRange } from '../../web/src/lib/dates.ts';
import { fingerprint, IdempotencyKeys } from '../../web/src/lib/idempotency.ts';
import { pollUntilDone } from '../../web/src/lib/job.ts';
import { ApiError, backoffMs, fieldName, parseRetryAfter, toProblem } from '../../web/src/lib/problem.ts';
import { planMove } from '../../web/src/lib/reorder.ts';
import {
  canReorder,
  DEFAULT_FILTERS,
  filtersFromRoute,
  filtersToApi,
  filtersToRoute,
} from '../../web/src/lib/task-filters.ts';
import { describeEvent } from '../../web/src/lib/timeline.ts';

describe('problems', () => {
  it('keeps title and detail and maps field errors to form fields, first message per field', () => {
    const problem = toProblem(400, {
      type: 'https://tenantry.dev/problems/validation',
      title: 'Validation failed',
      status: 400,
      detail: 'The request does not match the schema',
      errors: [
        { path: '/email', message: 'must match format "email"' },
        { path: '/email', message: 'second message' },
        { path: '/rows/2/email', message: 'is not an e-mail address' },
        { path: '/body/due_at', message: 'bad date' },
      ],
    });
    const error = new ApiError(problem, 3);
    expect(error.title).toBe('Validation failed');
    expect(error.detail).toBe('The request does not match the schema');
    expect(error.fields).toEqual({
      email: 'must match format "email"',
      'rows.2.email': 'is not an e-mail address',
      due_at: 'bad date',
    });
    expect(error.retryAfter).toBe(3);
  });

  it('makes a readable problem from an answer that is not problem+json', () => {
    expect(toProblem(502, '<html>bad gateway</html>')).toMatchObject({ title: 'Server error', status: 502 });
    expect(toProblem(404, null)).toMatchObject({ title: 'Request failed', detail: 'HTTP 404' });
    expect(fieldName('/')).toBe('');
  });

  it('reads Retry-After as seconds or a date, and backs off 1, 2, 4, 8 … 15 s', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10);
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffMs(attempt))).toEqual([
      1000, 2000, 4000, 8000, 15000, 15000,
    ]);
    expect(backoffMs(1, 7)).toBe(7000);
    expect(backoffMs(1, 600)).toBe(60_000);
  });
});

describe('task filters', () => {
  it('round-trips through the address, leaving defaults out of it', () => {
    const filters = { ...DEFAULT_FILTERS, list: 'l1', status: 'done' as const, search: 'report', page: 3 };
    const query = filtersToRoute(filters);
    expect(query).toEqual({ list: 'l1', status: 'done', search: 'report', page: '3' });
    expect(filtersFromRoute(query)).toEqual(filters);
    expect(filtersToRoute(DEFAULT_FILTERS)).toEqual({});
  });

  it('ignores values the API would refuse', () => {
    const filters = filtersFromRoute({
      sort: 'DROP TABLE',
      status: 'maybe',
      page: '-2',
      order: 'up',
      priority: 'x',
    });
    expect(filters).toEqual(DEFAULT_FILTERS);
    expect(filtersFromRoute({ page: ['4', '5'], assignee: 'someone' })).toMatchObject({
      page: 4,
      assignee: '',
    });
  });

  it('turns filters into GET /tasks/ parameters', () => {
    expect(filtersToApi(DEFAULT_FILTERS, 50)).toEqual({
      page: 1,
      size: 50,
      sort: 'position',
      order: 'asc',
      status: ['todo', 'in_progress'],
    });
    const all = filtersToApi(
      {
        ...DEFAULT_FILTERS,
        status: 'all',
        priority: 'high',
        assignee: 'me',
        tag: 't',
        search: '  x ',
        overdue: true,
      },
      10,
    );
    expect(all).toEqual({
      page: 1,
      size: 10,
      sort: 'position',
      order: 'asc',
      priority: ['high'],
      assignee: 'me',
      tag: ['t'],
      search: 'x',
      overdue: true,
    });
  });

  it('allows reordering only for one list in manual order', () => {
    expect(canReorder(DEFAULT_FILTERS)).toBe(false);
    expect(canReorder({ ...DEFAULT_FILTERS, list: 'l1' })).toBe(true);
    expect(canReorder({ ...DEFAULT_FILTERS, list: 'l1', sort: 'due_at' })).toBe(false);
    expect(canReorder({ ...DEFAULT_FILTERS, list: 'l1', order: 'desc' })).toBe(false);
  });
});

describe('reorder', () => {
  const items = [
    { uuid: 'a', position: 1 },
    { uuid: 'b', position: 2 },
    { uuid: 'c', position: 5 },
  ];
  it('moves down and up, taking the position of the task dropped on', () => {
    const down = planMove(items, 0, 2)!;
    expect(down.items.map((item) => item.uuid)).toEqual(['b', 'c', 'a']);
    expect(down).toMatchObject({ uuid: 'a', position: 5 });
    const up = planMove(items, 2, 0)!;
    expect(up.items.map((item) => item.uuid)).toEqual(['c', 'a', 'b']);
    expect(up).toMatchObject({ uuid: 'c', position: 1 });
    expect(items.map((item) => item.uuid)).toEqual(['a', 'b', 'c']);
  });
  it('does nothing for a drop in place or out of range', () => {
    expect(planMove(items, 1, 1)).toBeNull();
    expect(planMove(items, -1, 1)).toBeNull();
    expect(planMove(items, 0, 3)).toBeNull();
  });
});

describe('dates', () => {
  it('finds the week of a day for both week starts', () => {
    const sunday = new Date(2026, 11, 6, 15, 0);
    expect(isoDay(weekRange(sunday, 'monday').start)).toBe('2026-11-30');
    expect(isoDay(weekRange(sunday, 'monday').end)).toBe('2026-12-07');
    expect(isoDay(weekRange(sunday, 'sunday').start)).toBe('2026-12-06');
    const monday = new Date(2026, 10, 30, 0, 0);
    expect(isoDay(weekRange(monday, 'monday').start)).toBe('2026-11-30');
  });
  it('lays out a month as whole weeks', () => {
    const december = monthGrid(2026, 11, 'monday');
    expect(december.length % 7).toBe(0);
    expect(isoDay(december[0]!)).toBe('2026-11-30');
    expect(isoDay(december.at(-1)!)).toBe('2027-01-03');
    // February 2027 starts on a Monday and has exactly four weeks.
    expect(monthGrid(2027, 1, 'monday')).toHaveLength(28);
    expect(isoDay(addDays(new Date(2026, 11, 31), 1))).toBe('2027-01-01');
  });
});

describe('timeline', () => {
  const actor = { uuid: 'u', first_name: 'Ada', last_name: 'Lovelace' };
  const at = '2026-12-01T00:00:00Z';
  it('says what happened in words', () => {
    const line = (action: string, before: unknown, after: unknown) =>
      describeEvent({ action, actor, before, after, created_at: at } as never);
    expect(line('created', null, { title: 'x' })).toBe('Ada Lovelace created the task');
    expect(line('status_changed', { status: 'todo' }, { status: 'in_progress' })).toBe(
      'Ada Lovelace set the status to in progress',
    );
    expect(line('updated', { title: 'a', due_at: null }, { title: 'b', due_at: at })).toBe(
      'Ada Lovelace changed the title, due date',
    );
    expect(line('assigned', null, { assignees: ['a', 'b'] })).toBe('Ada Lovelace assigned 2 people');
    expect(line('unassigned', { assignees: ['a'] }, null)).toBe('Ada Lovelace unassigned one person');
    expect(line('commented', null, { body: 'hi' })).toBe('Ada Lovelace commented');
    expect(line('commented', { body: 'hi' }, { body: 'ho' })).toBe('Ada Lovelace edited a comment');
    expect(line('commented', { body: 'hi' }, null)).toBe('Ada Lovelace deleted a comment');
  });
});

describe('job polling', () => {
  it('polls until the job is done and reports each state', async () => {
    const states = ['running', 'running', 'succeeded'];
    const seen: string[] = [];
    const last = await pollUntilDone({
      fetch: async () => states.shift()!,
      done: (state) => state !== 'running',
      onUpdate: (state) => seen.push(state),
      intervalMs: 1,
    });
    expect(last).toBe('succeeded');
    expect(seen).toEqual(['running', 'running', 'succeeded']);
  });
  it('stops when the page goes away', async () => {
    const controller = new AbortController();
    let calls = 0;
    const result = await pollUntilDone({
      fetch: async () => {
        calls++;
        controller.abort();
        return 'running';
      },
      done: () => false,
      onUpdate: () => {},
      intervalMs: 1,
      signal: controller.signal,
    });
    expect(result).toBeUndefined();
    expect(calls).toBe(1);
  });
});

describe('Idempotency-Keys', () => {
  const write = fingerprint('POST', 'http://x/tasks/', 'acme', '{"title":"Ship it"}');

  it('gives a write that never got an answer its key again, and a new key once it was answered', () => {
    let n = 0;
    const keys = new IdempotencyKeys(60_000, () => `key-${++n}`);
    const first = keys.keyFor(write);
    // Sent again after the client gave up: the same action, the same key.
    expect(keys.keyFor(write)).toBe(first);
    keys.settle(first);
    expect(keys.size).toBe(0);
    // Answered: the same request again is a new action.
    expect(keys.keyFor(write)).toBe('key-2');
  });

  it('tells different writes apart: body, address, method, tenant', () => {
    const keys = new IdempotencyKeys();
    const all = [
      write,
      fingerprint('POST', 'http://x/tasks/', 'acme', '{"title":"Ship it!"}'),
      fingerprint('POST', 'http://x/lists/', 'acme', '{"title":"Ship it"}'),
      fingerprint('PUT', 'http://x/tasks/', 'acme', '{"title":"Ship it"}'),
      fingerprint('POST', 'http://x/tasks/', 'globex', '{"title":"Ship it"}'),
    ].map((print) => keys.keyFor(print));
    expect(new Set(all).size).toBe(5);
    for (const key of all) expect(key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('forgets an unanswered write after its window', () => {
    let now = 0;
    let n = 0;
    const keys = new IdempotencyKeys(
      1000,
      () => `key-${++n}`,
      () => now,
    );
    expect(keys.keyFor(write)).toBe('key-1');
    now = 1001;
    expect(keys.keyFor(write)).toBe('key-2');
    expect(keys.size).toBe(1);
  });
});
