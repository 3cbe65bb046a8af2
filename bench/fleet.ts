/**
 * Migration benchmarks (SPEC 10): tenant creation latency, fresh fleet upgrades, no-op fleet checks at
 * growing fleet sizes (the per-tenant cost must stay flat).
 */
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.ts';
import { type Core, openCore } from '../src/core.ts';
import { DEFAULT_HOST } from '../src/db/hosts.ts';
import { upgradeFleet } from '../src/migrations/fleet.ts';
import type { MigrationSet } from '../src/migrations/migration-set.ts';
import { postmasterPid, treeCpuMs } from './cpu-usage.ts';
import {
  benchPostgres,
  type Measurement,
  machineDescription,
  median,
  saveSection,
  summarise,
} from './harness.ts';

/**
 * CPU time (ms) of the embedded PostgreSQL so far: the live processes plus every backend that has exited
 * (the postmaster's cutime + cstime), since pool connections may close during a run.
 */
async function postgresCpuMs(postmaster: number): Promise<number> {
  const stat = await readFile(`/proc/${postmaster}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (await treeCpuMs(postmaster)) + (Number(fields[13]) + Number(fields[14])) * 10;
}

const nodeCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** CPU per item of `work` in this process and in PostgreSQL: steadier than wall time on a busy machine. */
async function cpuPerItem(postmaster: number, items: number, work: () => Promise<void>) {
  const [node, postgres] = [nodeCpuMs(), await postgresCpuMs(postmaster)];
  await work();
  return {
    node: (nodeCpuMs() - node) / items,
    postgres: ((await postgresCpuMs(postmaster)) - postgres) / items,
  };
}

const cpuNote = (cpu: Array<{ node: number; postgres: number }>) =>
  `CPU per tenant: PostgreSQL ${Math.round(median(cpu.map((c) => c.postgres)))} ms + Node ${
    Math.round(median(cpu.map((c) => c.node)) * 10) / 10
  } ms`;

async function registerFresh(
  core: Awaited<ReturnType<typeof openCore>>,
  prefix: string,
  count: number,
): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}_${String(i).padStart(5, '0')}`);
  // Registry rows at base without schemas: exactly what the fleet upgrade of new tenants starts from.
  await core.hosts
    .db(DEFAULT_HOST)
    .withSchema('public')
    .insertInto('tenants')
    .values(
      ids.map((id) => ({
        tenant_id: id,
        name: id,
        host: DEFAULT_HOST,
        status: 'active',
        migration_status: 'pending',
      })),
    )
    .execute();
  return ids;
}

/** The fleet's database once measured: every tenant at head (10,000; 1,000 with --quick). */
export interface FleetDatabase {
  url: string;
  /** Every registered tenant. */
  tenants: string[];
  /** Those with complete schemas (every revision's tables), which can serve requests. */
  complete: string[];
}

/**
 * Tenants that only need to be registered and at head: the no-op check reads nothing but each schema's
 * version table, and the memory bench sends them no request. Their schemas hold a copy of a real
 * tenant's version table (every revision, same checksums) and not the revisions' tables — making ~6,600
 * complete schemas would take most of the bench's 15 minutes on this machine. Everything measured on
 * complete schemas (creation, fresh upgrades) uses complete ones; BENCHMARKS.md says so.
 */
export async function addFillers(
  core: Core,
  model: string,
  count: number,
  set: MigrationSet = core.tenantRunner.set,
): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => `filler_${String(i).padStart(5, '0')}`);
  const db = core.hosts.db(DEFAULT_HOST);
  const head = set.head;
  for (let start = 0; start < ids.length; start += 500) {
    const batch = ids.slice(start, start + 500);
    await db.transaction().execute(async (trx) => {
      for (const id of batch) {
        await sql`CREATE SCHEMA ${sql.id(id)};
          CREATE TABLE ${sql.id(id, 'schema_migrations')} (LIKE ${sql.id(model, 'schema_migrations')} INCLUDING ALL)`.execute(
          trx,
        );
        await sql`INSERT INTO ${sql.id(id, 'schema_migrations')} SELECT * FROM ${sql.id(model, 'schema_migrations')}`.execute(
          trx,
        );
      }
      await trx
        .withSchema('public')
        .insertInto('tenants')
        .values(
          batch.map((id) => ({
            tenant_id: id,
            name: id,
            host: DEFAULT_HOST,
            status: 'active',
            revision: head,
            migration_status: 'ok',
          })),
        )
        .execute();
    });
  }
}

export async function fleetBench(
  options: { quick: boolean },
  then?: (database: FleetDatabase) => Promise<void>,
): Promise<Measurement[]> {
  const pg = await benchPostgres();
  const core = await openCore(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent' }), {
    defaultDatabaseUrl: pg.url,
    poolSize: 16,
  });
  const rows: Measurement[] = [];
  try {
    await core.migratePublic();
    const postmaster = await postmasterPid(pg.dataDir);

    // Tenant creation: schema + every migration + registry row, one transaction each, one at a time.
    const creations = options.quick ? 30 : 100;
    const latencies: number[] = [];
    const creationCpu = await cpuPerItem(postmaster, creations, async () => {
      for (let i = 0; i < creations; i++) {
        const started = performance.now();
        await core.tenants.create({ name: `Bench Company ${i}` });
        latencies.push(performance.now() - started);
      }
    });
    rows.push(
      summarise(
        'tenant creation (schema + all migrations + registry row), p50',
        'ms',
        latencies,
        { text: 'p50 ≤ 25 ms', ok: (m) => m <= 25 },
        cpuNote([creationCpu]).replace('per tenant', 'per creation'),
      ),
    );
    const sorted = [...latencies].sort((a, b) => a - b);
    rows.push(summarise('tenant creation, p95', 'ms', [sorted[Math.floor(sorted.length * 0.95)]!]));

    // Fresh fleet upgrades.
    const freshSizes = options.quick ? [100] : [100, 1000];
    const repeats = options.quick ? 1 : 3;
    for (const size of freshSizes) {
      const seconds: number[] = [];
      const cpu: Array<{ node: number; postgres: number }> = [];
      for (let run = 0; run < repeats; run++) {
        const ids = await registerFresh(core, `fresh${size}_${run}`, size);
        const started = performance.now();
        cpu.push(
          await cpuPerItem(postmaster, size, async () => {
            const report = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, {
              tenants: ids,
              concurrency: 4,
            });
            if (report.upgraded !== size) throw new Error(`fresh fleet: ${report.upgraded}/${size} upgraded`);
          }),
        );
        seconds.push((performance.now() - started) / 1000);
      }
      rows.push(
        summarise(
          `fleet upgrade, ${size.toLocaleString('en')} fresh tenants (concurrency 4)`,
          's',
          seconds,
          size === 1000 ? { text: '≤ 20 s', ok: (m) => m <= 20 } : undefined,
          `${Math.round(((median(seconds) * 1000) / size) * 10) / 10} ms per tenant; ${cpuNote(cpu)}`,
        ),
      );
    }

    // Grow the fleet to 10,000 tenants at head (not measured), then no-op checks at each size.
    const target = options.quick ? 1000 : 10_000;
    const existing = (await core.registry.list()).map((t) => t.tenant_id);
    if (existing.length < target) await addFillers(core, existing[0] ?? '', target - existing.length);
    const all = (await core.registry.list()).map((t) => t.tenant_id);
    for (const size of options.quick ? [100, 1000] : [100, 1000, 10_000]) {
      const subset = size >= all.length ? undefined : all.slice(0, size);
      const seconds: number[] = [];
      for (let run = 0; run < 5; run++) {
        const started = performance.now();
        const report = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, { tenants: subset });
        seconds.push((performance.now() - started) / 1000);
        if (report.up_to_date !== size)
          throw new Error(`no-op check: ${report.up_to_date}/${size} up to date`);
      }
      rows.push(
        summarise(
          `no-op fleet check, ${size.toLocaleString('en')} tenants at head`,
          's',
          seconds,
          size === 10_000 ? { text: '≤ 5 s', ok: (m) => m <= 5 } : undefined,
          `${Math.round((median(seconds) * 1e6) / size)} µs per tenant`,
        ),
      );
    }
    await core.close();
    // The memory bench reuses these tenants rather than making 10,000 schemas a second time.
    await then?.({ url: pg.url, tenants: all, complete: existing });
  } finally {
    await core.close();
    await pg.cleanup();
  }
  return rows;
}

export async function runFleetSection(
  quick: boolean,
  command: string,
  then?: (database: FleetDatabase) => Promise<void>,
): Promise<void> {
  const rows = await fleetBench({ quick }, then);
  await saveSection('fleet', {
    title: 'Migrations: tenant creation and fleet upgrades',
    command,
    measuredAt: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: machineDescription(),
    rows,
    notes: [
      'Fresh tenants are registry rows at base; the fleet run creates each schema and applies every revision in one transaction per tenant.',
      'CPU per creation / tenant: user + system time of the bench process (Node: runner, pg driver, registry) and of every PostgreSQL process (/proc, exited backends included), divided by the tenants; steadier than the wall times when other work loads the machine, though contention inflates it too.',
      'The no-op check is the same fleet command finding every tenant at head through one version query per host (query_to_xml over each schema_migrations).',
      'Beyond the tenants created and upgraded above, the fleet is filled up to 1,000 / 10,000 with schemas that hold only a copy of a real version table (every revision, same checksums): the no-op check reads nothing else, and making ~6,600 complete schemas would take most of the 15 minutes of the bench.',
    ],
  });
  for (const row of rows)
    console.log(
      `${row.name}: median ${row.median} ${row.unit} (min ${row.min}, max ${row.max}, ${row.runs} runs)${row.target ? ` target ${row.target}: ${row.met ? 'met' : 'NOT met'}` : ''}${row.note ? ` — ${row.note}` : ''}`,
    );
}
