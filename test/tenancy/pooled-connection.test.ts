/**
 * "A pooled connection used for tenant A then B never serves A's rows to B" on the real hot routes: one
 * connection (DATABASE_POOL_SIZE=1) carries both tenants' sign-in (the token → principal statement),
 * user page, task page, single task and task creation — each a NAMED prepared statement per schema
 * (`SchemaStatement`, `runPrepared`, src/db/hosts.ts). A statement name shared by two schemas, or a
 * search_path left on the connection, would hand B a plan (and rows) of A's schema.
 * The probe-route version (Kysely only) is in tenant-plugin.test.ts.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { accountsApp, type Owner, signUp } from '../accounts/helpers.ts';
import { NO_OVERLOAD_CHECKS } from './helpers.ts';

const context = await accountsApp({ poolSize: 1, pressure: NO_OVERLOAD_CHECKS });
const { app } = context;

interface Seeded extends Owner {
  tasks: string[];
}

async function seed(label: string): Promise<Seeded> {
  const owner = await signUp(context, { company_name: `Pool ${label}` });
  const tasks: string[] = [];
  for (let i = 0; i < 3; i++) tasks.push(await createTask(owner, `${label} task ${i}`));
  return { ...owner, tasks };
}

async function createTask(owner: Owner, title: string): Promise<string> {
  const created = await app.inject({
    method: 'POST',
    url: '/tasks/',
    headers: owner.headers,
    payload: { title },
  });
  expect(created.statusCode, created.body).toBe(201);
  expect(created.json()).toMatchObject({ title });
  return created.json<{ uuid: string }>().uuid;
}

/** Every hot read of `who`, checked to hold only `who`'s data; `other`'s task is not found. */
async function readsOnlyItsOwn(who: Seeded, label: string, other: Seeded): Promise<void> {
  const get = (url: string) => app.inject({ method: 'GET', url, headers: who.headers });
  const [me, users, tasks, one, foreign] = await Promise.all([
    get('/auth/me'),
    get('/users/'),
    get('/tasks/?sort=title'),
    get(`/tasks/${who.tasks[0]}`),
    get(`/tasks/${other.tasks[0]}`),
  ]);
  expect(me.json()).toMatchObject({ tenant_id: who.tenant, user: { email: who.email } });
  expect(users.json<{ items: Array<{ email: string }> }>().items.map((u) => u.email)).toEqual([who.email]);
  const titles = tasks.json<{ items: Array<{ title: string }> }>().items.map((t) => t.title);
  expect(titles.length).toBeGreaterThanOrEqual(3);
  for (const title of titles) expect(title.startsWith(`${label} `), title).toBe(true);
  expect(one.json()).toMatchObject({ uuid: who.tasks[0], title: `${label} task 0` });
  expect(foreign.statusCode).toBe(404);
}

describe('one pooled connection, two tenants, the real hot routes', () => {
  it('never serves A’s rows or plans to B, sequentially and interleaved', async () => {
    const a = await seed('Alpha');
    const b = await seed('Beta');

    for (let round = 0; round < 3; round++) {
      await readsOnlyItsOwn(a, 'Alpha', b);
      await readsOnlyItsOwn(b, 'Beta', a);
      a.tasks.push(await createTask(a, `Alpha extra ${round}`));
      b.tasks.push(await createTask(b, `Beta extra ${round}`));
    }
    // Interleaved on the one connection: each request waits for it while the other tenant holds it.
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 ? readsOnlyItsOwn(a, 'Alpha', b) : readsOnlyItsOwn(b, 'Beta', a),
      ),
    );

    // It really was one connection, holding named statements of both schemas side by side.
    const pool = app.core.hosts.pool(DEFAULT_HOST);
    expect(pool.totalCount).toBe(1);
    const prepared = await sql<{ name: string; statement: string }>`
      SELECT name, statement FROM pg_prepared_statements`.execute(app.core.hosts.db(DEFAULT_HOST));
    expect(pool.totalCount).toBe(1);
    for (const tenant of [a.tenant, b.tenant]) {
      const own = prepared.rows.filter((row) => row.statement.includes(`"${tenant}".`));
      // Principal lookup, user page, task page, one task, task creation: several statements each.
      expect(own.length, tenant).toBeGreaterThanOrEqual(4);
    }
    const names = prepared.rows.map((row) => row.name);
    expect(new Set(names).size).toBe(names.length);
    // No session state left behind on the connection.
    const path = await sql<{ search_path: string }>`SHOW search_path`.execute(
      app.core.hosts.db(DEFAULT_HOST),
    );
    expect(path.rows[0]!.search_path).toBe('"$user", public');
  });
});
