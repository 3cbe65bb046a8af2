/**
 * Server memory (SPEC 10): RSS of the production server with 10,000 tenants registered (schemas at head)
 * of which 1,000 are active — each of those got authenticated requests (users page, task page, /auth/me),
 * so the registry cache, the schema-bound Kysely instances and the prepared statements of 1,000 tenants
 * are all in memory. Measured with WEB_CONCURRENCY=1 and =2.
 *
 * The tenants are made the way the fleet upgrade makes new ones (registry rows, then one migration
 * transaction per schema); each active tenant gets one OWNER and one session written with SQL — going
 * through POST /auth/register 1,000 times would only hit its rate limit (10 per hour per IP).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { hashToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { type Core, openCore } from '../src/core.ts';
import {
  DEFAULT_HOST,
  DEFAULT_STATEMENTS_PER_CONNECTION,
  DEFAULT_TENANTS_PER_CONNECTION,
} from '../src/db/hosts.ts';
import { connectionMemory } from './connection-memory.ts';
import { addFillers, type FleetDatabase } from './fleet.ts';
import { benchPostgres, type Measurement, machineDescription, saveSection, summarise } from './harness.ts';
import { ADMIN_TOKEN, loadAverage, printRows } from './http.ts';
import { postgresMemory } from './pg-memory.ts';
import { call, inParallel } from './seed.ts';
import { buildProduction, type RunningServer, serverMemory, startServer } from './server-process.ts';
import { shape, shapeUrl } from './shapes.ts';

interface ActiveTenant {
  tenant: string;
  token: string;
}

async function withCore<T>(databaseUrl: string, work: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(
    loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', DATABASE_POOL_WAIT_MS: '60000' }),
    {
      defaultDatabaseUrl: databaseUrl,
      poolSize: 16,
    },
  );
  try {
    return await work(core);
  } finally {
    await core.close();
  }
}

/**
 * --only memory: `total` tenants at head, of which `complete` made as a fleet upgrade makes new ones
 * (registry rows, one migration transaction per schema) and the rest fillers (bench/fleet.ts `addFillers`).
 */
export function makeTenants(databaseUrl: string, total: number, complete: number): Promise<FleetDatabase> {
  return withCore(databaseUrl, async (core) => {
    await core.migratePublic();
    const ids = Array.from({ length: complete }, (_, i) => `mem_${String(i).padStart(5, '0')}`);
    // Created as the control center creates tenants (schema + every revision + registry row), 4 at once.
    await inParallel(ids.length, 4, (i) => core.tenants.create({ name: `Memory ${i}`, tenantId: ids[i] }));
    await addFillers(core, ids[0] ?? '', total - complete);
    const tenants = (await core.registry.list()).map((t) => t.tenant_id);
    return { url: databaseUrl, tenants, complete: ids };
  });
}

/** Every n-th tenant (spread over the fleet) gets an OWNER and a session: the active ones. */
function activate(databaseUrl: string, ids: string[], active: number): Promise<ActiveTenant[]> {
  return withCore(databaseUrl, (core) => {
    const db = core.hosts.db(DEFAULT_HOST);
    const step = Math.max(1, Math.floor(ids.length / active));
    return inParallel(Math.min(active, ids.length), 8, async (k) => {
      const tenant = ids[k * step] ?? '';
      const token = randomBytes(32).toString('base64url');
      await sql`
        WITH owner AS (
          INSERT INTO ${sql.id(tenant, 'users')} (email, first_name, last_name, role_id, is_verified)
          SELECT ${`owner@${tenant}.example`}, 'Olivia', 'Owner', id, true
          FROM ${sql.id(tenant, 'roles')} WHERE name = 'OWNER'
          RETURNING id)
        INSERT INTO ${sql.id(tenant, 'sessions')} (token_hash, user_id, expires_at)
        SELECT ${hashToken(token)}, id, now() + interval '1 day' FROM owner`.execute(db);
      return { tenant, token };
    });
  });
}

/** Every active tenant: its users page, its task page and /auth/me, as a client opening the app would. */
async function visit(server: RunningServer, tenants: ActiveTenant[]): Promise<void> {
  await inParallel(tenants.length, 16, async (i) => {
    const { tenant, token } = tenants[i] ?? { tenant: '', token: '' };
    for (const url of ['/users/', '/tasks/?status=todo&sort=due_at', '/auth/me'])
      await call(server.base, 'GET', url, { tenant, token });
  });
}

const mb = (value: number) => Math.round(value);

export interface MemoryOptions {
  quick: boolean;
  /** Tenants registered (default 10,000; 1,000 with --quick). */
  tenants?: number;
  /** Active tenants, measured one after the other on one server (default 1,000 then 5,000; 100 with --quick). */
  active?: number[];
  /** GET /tasks/ shapes of the attack (default 4,200). */
  shapes?: number;
}

/** Three samples a second apart: the server's RSS, and PostgreSQL's backends (sum and largest). */
async function sample(server: RunningServer, databaseUrl: string) {
  const samples = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    samples.push({ node: await serverMemory(server), postgres: await postgresMemory(databaseUrl) });
  }
  return samples;
}

export async function memoryBench(
  options: MemoryOptions,
  fleet?: FleetDatabase,
): Promise<{ rows: Measurement[]; notes: string[] }> {
  buildProduction();
  const actives = options.active ?? (options.quick ? [100] : [1000, 5000]);
  const most = Math.max(...actives);
  const shapes = options.shapes ?? 4200;
  const own = fleet ? undefined : await benchPostgres();
  const databaseUrl = fleet?.url ?? own?.url ?? '';
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenantry-bench-memory-'));
  const rows: Measurement[] = [];
  const notes: string[] = [];
  try {
    const made =
      fleet ?? (await makeTenants(databaseUrl, options.tenants ?? (options.quick ? 1000 : 10_000), most));
    const registered = made.tenants.length;
    const tenants = await activate(databaseUrl, made.complete, most);
    const load = [loadAverage()];

    // One connection, measured apart: catalog caches per tenant, statements per tenant and per shape.
    const perConnection = await connectionMemory(
      databaseUrl,
      made.complete.slice(0, 50),
      500,
      DEFAULT_STATEMENTS_PER_CONNECTION,
      DEFAULT_TENANTS_PER_CONNECTION,
    );
    for (const run of perConnection) {
      const steps = run.steps.map((step) => `${step.label}: ${mb(step.mb)} MB`).join(', ');
      const last = run.steps.at(-1)?.mb ?? 0;
      rows.push(summarise(`one connection's backend, ${run.label}`, 'MB', [last], undefined, steps));
    }

    const server = await startServer({
      databaseUrl,
      dataDir,
      adminToken: ADMIN_TOKEN,
      webConcurrency: 1,
      logFile: path.join(dataDir, 'server.log'),
      // Memory, not latency, is measured here: on a shared, loaded machine the default 500 ms wait for a
      // connection (503 past it) would end the run, and new connections are opened as the bounds replace them.
      env: { DATABASE_POOL_WAIT_MS: '10000', DATABASE_POOL_QUEUE: '10000' },
    });
    try {
      const idle = await serverMemory(server);
      for (const active of actives) {
        const scale = `${registered.toLocaleString('en')} tenants registered, ${active.toLocaleString('en')} active`;
        const visited = performance.now();
        // Twice: the second visit finds (or not) what the first one left in the caches.
        await visit(server, tenants.slice(0, active));
        await visit(server, tenants.slice(0, active));
        load.push(loadAverage());
        console.log(
          `${scale}: ${active * 6} requests in ${Math.round(performance.now() - visited)} ms (${loadAverage()})`,
        );
        const samples = await sample(server, databaseUrl);
        const at10k = registered >= 10_000;
        rows.push(
          summarise(
            `server RSS, ${scale}`,
            'MB',
            samples.map((s) => s.node.servingMb),
            at10k ? { text: '≤ 200 MB', ok: (m: number) => m <= 200 } : undefined,
            `${mb(idle.servingMb)} MB right after start`,
          ),
          summarise(
            `PostgreSQL backends' private memory, total, ${scale}`,
            'MB',
            samples.map((s) => s.postgres.totalMb),
            active >= 5000 ? { text: '≤ 1,024 MB', ok: (m: number) => m <= 1024 } : undefined,
            `${samples[0]?.postgres.backends ?? 0} client backends`,
          ),
          summarise(
            `PostgreSQL largest backend, ${scale}`,
            'MB',
            samples.map((s) => s.postgres.largestMb),
            { text: '≤ 60 MB', ok: (m: number) => m <= 60 },
          ),
        );
      }

      // The attack: one user, `shapes` distinct task-page shapes, 8 at a time.
      const attacker = tenants[0] ?? { tenant: '', token: '' };
      const started = performance.now();
      await inParallel(shapes, 8, (i) => call(server.base, 'GET', shapeUrl(shape(i)), attacker));
      load.push(loadAverage());
      console.log(
        `attack: ${shapes} shapes in ${Math.round(performance.now() - started)} ms (${loadAverage()})`,
      );
      const attacked = await sample(server, databaseUrl);
      const name = `after ${shapes.toLocaleString('en')} GET /tasks/ of one user, each a different filter shape`;
      rows.push(
        summarise(
          `PostgreSQL largest backend, ${name}`,
          'MB',
          attacked.map((s) => s.postgres.largestMb),
          {
            text: '≤ 60 MB',
            ok: (m: number) => m <= 60,
          },
        ),
        summarise(
          `PostgreSQL backends' private memory, total, ${name}`,
          'MB',
          attacked.map((s) => s.postgres.totalMb),
          undefined,
          `${attacked[0]?.postgres.backends ?? 0} client backends; before the statement limit one backend grew from 5 to 697 MB (issue 15)`,
        ),
        summarise(
          `server RSS, ${name}`,
          'MB',
          attacked.map((s) => s.node.servingMb),
          {
            text: '≤ 200 MB',
            ok: (m: number) => m <= 200,
          },
        ),
      );
    } finally {
      await server.stop();
    }
    notes.push(
      `${registered.toLocaleString('en')} tenants registered: ${fleet ? "the fleet section's tenants" : `${most.toLocaleString('en')} complete tenants (created as POST /cc/tenants creates them), the rest fillers`} (all at head; the fillers hold only a version table, see the fleet section). Each active tenant (every n-th) got an OWNER and a session by SQL, then GET /users/, GET /tasks/?status=todo&sort=due_at and GET /auth/me twice over HTTP, 16 clients at once; the active counts ran one after the other on one server (WEB_CONCURRENCY=1, DATABASE_POOL_SIZE=10, default bounds: ${DEFAULT_STATEMENTS_PER_CONNECTION} statements and ${DEFAULT_TENANTS_PER_CONNECTION} tenants per connection).`,
      "PostgreSQL memory is the sum of Private_Clean + Private_Dirty (/proc/<pid>/smaps_rollup) of every client backend in pg_stat_activity (the server's pools and the job runner's); shared buffers are shared and not counted. RSS is the server's VmRSS. Both sampled three times one second after the traffic.",
      `"one connection's backend" rows: a pool of one connection runs the hot reads (principal lookup, user page, task page) of 50 tenants, or 500 task-page shapes of one tenant, through the server's own code (bench/connection-memory.ts); 'no limit' is the design before issue 15.`,
      `Load average (1, 5, 15 min) during the run: ${load.join(' → ')}.`,
    );
  } finally {
    await own?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { rows, notes };
}

export async function runMemorySection(
  options: MemoryOptions,
  command: string,
  fleet?: FleetDatabase,
): Promise<void> {
  const { rows, notes } = await memoryBench(options, fleet);
  await saveSection('memory', {
    title: 'Memory: server RSS and PostgreSQL backends with many tenants',
    command,
    measuredAt: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: machineDescription(),
    rows,
    notes,
  });
  printRows(rows);
}
