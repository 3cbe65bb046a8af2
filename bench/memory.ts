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
import { DEFAULT_HOST } from '../src/db/hosts.ts';

import { addFillers, type FleetDatabase } from './fleet.ts';
import { benchPostgres, type Measurement, machineDescription, saveSection, summarise } from './harness.ts';
import { ADMIN_TOKEN, loadAverage, printRows } from './http.ts';
import { call, inParallel } from './seed.ts';
import { buildProduction, type RunningServer, serverMemory, startServer } from './server-process.ts';

interface ActiveTenant {
  tenant: string;
  token: string;
}

async function withCore<T>(databaseUrl: string, work: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent' }), {
    defaultDatabaseUrl: databaseUrl,
    poolSize: 16,
  });
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

export async function memoryBench(
  options: { quick: boolean },
  fleet?: FleetDatabase,
): Promise<{ rows: Measurement[]; notes: string[] }> {
  buildProduction();
  const active = options.quick ? 100 : 1000;
  const own = fleet ? undefined : await benchPostgres();
  const databaseUrl = fleet?.url ?? own?.url ?? '';
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenantry-bench-memory-'));
  const rows: Measurement[] = [];
  const notes: string[] = [];
  try {
    const made = fleet ?? (await makeTenants(databaseUrl, options.quick ? 1000 : 10_000, active));
    const registered = made.tenants.length;
    const scale = `${registered.toLocaleString('en')} tenants registered, ${active.toLocaleString('en')} active`;
    const tenants = await activate(databaseUrl, made.complete, active);
    for (const concurrency of [1, 2]) {
      const server = await startServer({
        databaseUrl,
        dataDir,
        adminToken: ADMIN_TOKEN,
        webConcurrency: concurrency,
        logFile: path.join(dataDir, 'server.log'),
      });
      try {
        const idle = await serverMemory(server);
        const visited = performance.now();
        // Twice: with 2 workers each tenant then reaches both of them (the OS spreads connections).
        await visit(server, tenants);
        await visit(server, tenants);
        console.log(
          `WEB_CONCURRENCY=${concurrency}: ${active * 6} requests in ${Math.round(performance.now() - visited)} ms (${loadAverage()})`,
        );
        const samples = [];
        for (let i = 0; i < 3; i++) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          samples.push(await serverMemory(server));
        }
        const target = { text: '≤ 200 MB', ok: (mb: number) => mb <= 200 };
        rows.push(
          summarise(
            `server RSS, ${scale}, WEB_CONCURRENCY=${concurrency}${concurrency > 1 ? ', largest worker' : ''}`,
            'MB',
            samples.map((s) => s.servingMb),
            registered === 10_000 ? target : undefined,
            `${Math.round(idle.servingMb)} MB before the ${active.toLocaleString('en')} tenants were active`,
          ),
        );
        if (concurrency > 1)
          rows.push(
            summarise(
              `server RSS, ${scale}, WEB_CONCURRENCY=${concurrency}, primary + workers`,
              'MB',
              samples.map((s) => s.totalMb),
              undefined,
              `${samples[0]?.processes ?? 0} processes; the primary runs migrations and forks, it serves nothing`,
            ),
          );
      } finally {
        await server.stop();
      }
    }
    notes.push(
      `${scale}: ${fleet ? "the fleet section's tenants" : `${active.toLocaleString('en')} complete tenants made as a fleet upgrade makes new ones, the rest fillers`} (all at head; the fillers hold only a version table, see the fleet section; the active ones have complete schemas); each active tenant (every n-th) got an OWNER and a session by SQL, then GET /users/, GET /tasks/?status=todo&sort=due_at and GET /auth/me twice over HTTP.`,
      'RSS is VmRSS from /proc, sampled three times one second after the traffic; "before" is right after start (the primary checked all registered tenants at start: MIGRATE_TENANTS_ON_START=background).',
    );
  } finally {
    await own?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { rows, notes };
}

export async function runMemorySection(
  quick: boolean,
  command: string,
  fleet?: FleetDatabase,
): Promise<void> {
  const { rows, notes } = await memoryBench({ quick }, fleet);
  await saveSection('memory', {
    title: 'Memory: server RSS with many tenants',
    command,
    measuredAt: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: machineDescription(),
    rows,
    notes,
  });
  printRows(rows);
}
