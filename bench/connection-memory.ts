/**
 * What one pooled connection costs its PostgreSQL backend, measured apart (issue 15): the catalog caches
 * (relcache, catcache) of every tenant it touched, the named prepared statements per tenant, and the
 * statements of many query shapes of one tenant — with the statement limit (runNamed) and without it.
 * One pool of ONE connection runs the real hot-path code (principal lookup, user page, task page) the
 * way a request would; the backend's private memory is read from /proc after each step.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SessionRepository } from '../src/auth/session-repository.ts';
import type { AccountDb } from '../src/auth/tables.ts';
import { hashToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { openCore } from '../src/core.ts';
import { DEFAULT_HOST } from '../src/db/hosts.ts';
import type { TodoDb } from '../src/routes/tasks/tables.ts';
import { TASK_PRIORITIES, TASK_STATUSES } from '../src/routes/tasks/tables.ts';
import { readTasks } from '../src/routes/tasks/task-reads.ts';
import { UsersRepository } from '../src/routes/users/users-repository.ts';
import { privateMb } from './pg-memory.ts';
import { type Shape, shape } from './shapes.ts';

export interface ConnectionStep {
  label: string;
  mb: number;
}

/** Runs `work` on a one-connection pool with this statement limit; the backend's MB after each step. */
async function onOneConnection(
  databaseUrl: string,
  statements: number,
  tenantsPerConnection: number,
  work: (step: (label: string) => Promise<void>, core: Awaited<ReturnType<typeof openCore>>) => Promise<void>,
): Promise<ConnectionStep[]> {
  const core = await openCore(
    loadConfig({
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      // Set-up, not latency: a new connection may take seconds on a loaded machine.
      DATABASE_POOL_WAIT_MS: '60000',
      DATABASE_STATEMENTS_PER_CONNECTION: String(statements),
      DATABASE_TENANTS_PER_CONNECTION: String(tenantsPerConnection),
    }),
    { defaultDatabaseUrl: databaseUrl, poolSize: 1 },
  );
  const steps: ConnectionStep[] = [];
  try {
    // The pool's one connection (a new one after it is replaced: DATABASE_TENANTS_PER_CONNECTION).
    const step = async (label: string) => {
      const { rows } = await core.hosts
        .pool(DEFAULT_HOST)
        .query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      steps.push({ label, mb: await privateMb(rows[0]?.pid ?? 0) });
    };
    await step('connected');
    await work(step, core);
  } finally {
    await core.close();
  }
  return steps;
}

/** The three reads of a client opening the app, on one tenant (as the server runs them). */
async function hotReads(core: Awaited<ReturnType<typeof openCore>>, tenant: string): Promise<void> {
  const db = core.hosts.schemaDb(DEFAULT_HOST, tenant);
  await new SessionRepository(db as AccountDb).findByToken(hashToken(randomBytes(32).toString('base64url')));
  await new UsersRepository(db as AccountDb).page(tenant, {
    sort: 'email',
    order: 'asc',
    offset: 0,
    limit: 50,
  });
  await readTasks(
    db as TodoDb,
    tenant,
    { sort: 'due_at', order: 'asc' },
    { filters: { status: ['todo'] }, offset: 0, limit: 50 },
  );
}

function filtersOf(s: Shape) {
  return {
    order: { sort: s.sort, order: s.order },
    selection: {
      filters: {
        tag: Array.from({ length: s.tags }, () => randomUUID()),
        status: [...TASK_STATUSES.slice(0, s.statuses)],
        priority: [...TASK_PRIORITIES.slice(0, s.priorities)],
        overdue: s.overdue,
        deleted: s.deleted,
      },
      offset: 0,
      limit: 50,
    },
  };
}

/**
 * `tenants` complete tenant schemas; `shapes` task-page shapes on the first. Rows: per tenant (caches
 * only: no named statements), per tenant (caches + the hot statements, no limit), per shape (no limit),
 * and the shapes with the default limit.
 */
export async function connectionMemory(
  databaseUrl: string,
  tenants: string[],
  shapes: number,
  limit: number,
  tenantsPerConnection: number,
): Promise<{ label: string; steps: ConnectionStep[] }[]> {
  const unbounded = 10_000;
  const runs: { label: string; steps: ConnectionStep[] }[] = [];
  const tenantsRun = async (statements: number, tenantsPerConnection = 0) =>
    onOneConnection(databaseUrl, statements, tenantsPerConnection, async (step, core) => {
      for (const [i, tenant] of tenants.entries()) {
        await hotReads(core, tenant);
        // The second time is what a connection keeps: a statement prepared and planned (generic after 5).
        if (i === 0 || (i + 1) % 10 === 0 || i === tenants.length - 1) await step(`${i + 1} tenants`);
      }
    });
  runs.push({
    label: 'hot reads of each tenant, unnamed statements (catalog caches only)',
    steps: await tenantsRun(0),
  });
  runs.push({
    label: 'hot reads of each tenant, named statements, no limit (before)',
    steps: await tenantsRun(unbounded),
  });
  runs.push({
    label: `hot reads of each tenant, named statements, limits ${limit} statements and ${tenantsPerConnection} tenants per connection`,
    steps: await tenantsRun(limit, tenantsPerConnection),
  });
  const shapesRun = (statements: number) =>
    onOneConnection(databaseUrl, statements, 0, async (step, core) => {
      const tenant = tenants[0] ?? '';
      const db = core.hosts.schemaDb(DEFAULT_HOST, tenant) as TodoDb;
      for (let i = 0; i < shapes; i++) {
        const { order, selection } = filtersOf(shape(i));
        await readTasks(db, tenant, order, selection);
        if (i === 0 || i === 99 || i === shapes - 1) await step(`${i + 1} shapes`);
      }
    });
  runs.push({
    label: 'task page shapes of one tenant, no limit (before)',
    steps: await shapesRun(unbounded),
  });
  runs.push({ label: `task page shapes of one tenant, limit ${limit}`, steps: await shapesRun(limit) });
  runs.push({ label: 'task page shapes of one tenant, unnamed statements', steps: await shapesRun(0) });
  return runs;
}
