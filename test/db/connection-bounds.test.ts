/**
 * PostgreSQL memory per pooled connection is bounded whatever the traffic (issue 15): at most
 * DATABASE_STATEMENTS_PER_CONNECTION named prepared statements live on a connection, however many query
 * shapes the task page is asked for (counted in `pg_prepared_statements` seen from that very backend), and
 * a connection is replaced once it has served DATABASE_TENANTS_PER_CONNECTION tenant schemas (its
 * catalog caches go with its backend). The memory itself is measured in `npm run bench` (BENCHMARKS.md).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { accountsApp, type Owner, signUp } from '../accounts/helpers.ts';

const STATEMENTS = 8;
const TENANTS = 3;
const context = await accountsApp({
  poolSize: 1,
  env: {
    DATABASE_STATEMENTS_PER_CONNECTION: String(STATEMENTS),
    DATABASE_TENANTS_PER_CONNECTION: String(TENANTS),
  },
});
const { app } = context;
const pool = app.core.hosts.pool(DEFAULT_HOST);

/** The pool's one connection, asked directly (a checkout for no schema: it counts no tenant). */
async function backend(): Promise<{ pid: number; statements: number }> {
  const { rows } = await pool.query<{ pid: number; statements: number }>(
    'SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM pg_prepared_statements) AS statements',
  );
  return rows[0] as { pid: number; statements: number };
}

/** Task page shape `i`: a different sort, order, status list or tag list length each time. */
function shapeUrl(i: number): string {
  const sorts = ['created_at', 'due_at', 'priority', 'title', 'position'];
  const query = new URLSearchParams({ sort: sorts[i % 5] ?? 'title', order: i % 2 ? 'asc' : 'desc' });
  for (let k = 0; k < Math.floor(i / 10); k++) query.append('tag', crypto.randomUUID());
  if (i % 3) query.append('status', 'todo');
  return `/tasks/?${query}`;
}

async function get(owner: Owner, url: string) {
  const response = await app.inject({ method: 'GET', url, headers: owner.headers });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

describe('one connection, many query shapes', () => {
  it(`keeps at most ${STATEMENTS} named statements on it, and a deallocated shape runs again`, async () => {
    const owner = await signUp(context, { company_name: 'Shapes Inc' });
    const created = await app.inject({
      method: 'POST',
      url: '/tasks/',
      headers: owner.headers,
      payload: { title: 'only task', status: 'todo' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const first = (await get(owner, shapeUrl(1))) as { total: number };
    let most = 0;
    for (let i = 0; i < 40; i++) {
      const page = (await get(owner, shapeUrl(i))) as { total: number; items: unknown[] };
      // Shapes with tags match nothing (random tag uuids); the others find the task.
      expect(page.total).toBe(i >= 10 ? 0 : 1);
      most = Math.max(most, (await backend()).statements);
    }
    // Full, never over: the statements are named (prepared once) and the oldest are deallocated.
    expect(most).toBe(STATEMENTS);
    // Shape 1 was deallocated long ago: prepared again, same answer.
    expect(await get(owner, shapeUrl(1))).toEqual(first);
  });
});

describe('one connection, many tenants', () => {
  it(`is replaced once it has served ${TENANTS} tenant schemas`, async () => {
    const owners: Owner[] = [];
    for (let i = 0; i < TENANTS + 1; i++) owners.push(await signUp(context, { company_name: `Bound ${i}` }));
    // Which tenants each backend (by pid) served, cycling through the tenants twice.
    const served = new Map<number, Set<string>>();
    for (let round = 0; round < 2; round++) {
      for (const owner of owners) {
        const { pid } = await backend();
        await get(owner, '/users/');
        served.set(pid, (served.get(pid) ?? new Set()).add(owner.tenant));
      }
    }
    // Without the bound one backend serves all 4 tenants (8 requests); with it, none serves more than 3.
    expect(served.size).toBeGreaterThanOrEqual(3);
    for (const tenants of served.values()) expect(tenants.size).toBeLessThanOrEqual(TENANTS);
  });
});
