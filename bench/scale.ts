/**
 * Fleet-size benchmarks (issue 15) on a PostgreSQL with its DEFAULT lock settings (max_connections 100,
 * max_locks_per_transaction 64: a lock table of 6,400, as on managed services):
 *
 * - one typical new revision (a column and an index on `tasks`) applied by the fleet command to every
 *   tenant at head, at each fleet size;
 * - a whole-database backup and its restore (into a new database) at each fleet size;
 * - the no-op fleet check over a large fleet (complete tenants, then version-table-only fillers).
 *
 * The tenants are complete (every revision's tables) and made in bulk (bench/bulk-tenants.ts).
 * `npm run bench -- --only scale [--tenants 1000,10000] [--noop 50000]`; --quick is 100,1000 / 5,000.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createBackup } from '../src/backup/backup.ts';
import type { BackupContext } from '../src/backup/context.ts';
import { restoreBackup } from '../src/backup/restore.ts';
import { LocalStorage } from '../src/backup/storage/local.ts';
import { loadConfig } from '../src/config.ts';
import { openCore } from '../src/core.ts';
import { revisionChecksum } from '../src/migrations/checksum.ts';
import { upgradeFleet } from '../src/migrations/fleet.ts';
import { type Migration, MigrationSet } from '../src/migrations/migration-set.ts';
import { MigrationRunner } from '../src/migrations/runner.ts';
import { createBulkTenants } from './bulk-tenants.ts';
import { addFillers } from './fleet.ts';
import {
  benchPostgres,
  loadAverage,
  type Measurement,
  machineDescription,
  saveSection,
  summarise,
} from './harness.ts';

/** A typical new revision: one column and one index on `tasks`, as a developer would write it. */
function taskRevision(follows: string, n: number): Migration {
  const revision = `bec0${n.toString(16).padStart(8, '0')}`; // 12 hex characters, as the runner expects
  const up = `ALTER TABLE tasks ADD COLUMN estimate_minutes_${n} integer;
CREATE INDEX tasks_estimate_${n}_idx ON tasks (estimate_minutes_${n}) WHERE deleted_at IS NULL;`;
  const down = `DROP INDEX tasks_estimate_${n}_idx; ALTER TABLE tasks DROP COLUMN estimate_minutes_${n};`;
  const name = `2099_01_01_000${n}-${revision}_bench_task_estimate`;
  return {
    revision,
    name,
    file: `${name}.ts`,
    description: 'Bench: task estimate column and index',
    follows,
    up,
    down,
    checksum: revisionChecksum(up, down, ''),
  };
}

export { taskRevision };

export async function scaleBench(options: { sizes: number[]; noop: number }): Promise<Measurement[]> {
  const pg = await benchPostgres({ defaults: true });
  const core = await openCore(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent' }), {
    defaultDatabaseUrl: pg.url,
    poolSize: 8,
  });
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-bench-backups-'));
  const rows: Measurement[] = [];
  try {
    await core.migratePublic();
    let set = core.tenantRunner.set;
    let made = 0;
    const log = (message: string) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${message}`);
    for (const size of options.sizes) {
      // Grow the fleet to `size` complete tenants at head (not measured).
      const ids = Array.from({ length: size - made }, (_, i) => `t_${String(made + i).padStart(6, '0')}`);
      const began = performance.now();
      await createBulkTenants(pg.url, set, ids, (done) => {
        if (done % 1000 === 0) log(`${made + done} tenants`);
      });
      made = size;
      log(`${size} tenants at head (bulk, ${Math.round((performance.now() - began) / 1000)} s)`);

      // One new revision applied to the whole fleet.
      set = new MigrationSet('tenant', [...set.migrations, taskRevision(set.head!, set.migrations.length)]);
      const runner = new MigrationRunner(set);
      const load = loadAverage();
      const started = performance.now();
      const report = await upgradeFleet(core.hosts, core.registry, runner, { concurrency: 4 });
      const seconds = (performance.now() - started) / 1000;
      if (report.upgraded !== size) {
        const failed = report.results.find((r) => r.outcome !== 'upgraded');
        throw new Error(`revision: ${report.upgraded}/${size} upgraded; e.g. ${JSON.stringify(failed)}`);
      }
      rows.push(
        summarise(
          `new revision (column + index on tasks), ${size.toLocaleString('en')} tenants at head (concurrency 4)`,
          's',
          [seconds],
          size >= 10_000 ? { text: '≤ 30 s at 10,000', ok: (m) => m <= 30 } : undefined,
          `${Math.round((seconds * 1e4) / size) / 10} ms per tenant; load average before ${load}`,
        ),
      );
      log(`${rows.at(-1)!.name}: ${Math.round(seconds)} s`);

      // Whole-database backup and restore into a new database, on the default lock settings.
      const context: BackupContext = {
        url: pg.url,
        storage: new LocalStorage(folder),
        pgBinDir: undefined,
        verbose: false,
        log: () => {},
      };
      const loadBackup = loadAverage();
      const backupStarted = performance.now();
      const { manifest } = await createBackup(context, {});
      const backupSeconds = (performance.now() - backupStarted) / 1000;
      const parts = manifest.parts?.length ?? 0;
      rows.push(
        summarise(
          `whole-database backup, ${size.toLocaleString('en')} tenants (default lock settings)`,
          's',
          [backupSeconds],
          undefined,
          `${parts} part(s) + main archive, ${Math.round((manifest.sizeBytes + (manifest.parts ?? []).reduce((t, p) => t + p.sizeBytes, 0)) / 2 ** 20)} MiB; load average before ${loadBackup}`,
        ),
      );
      log(`${rows.at(-1)!.name}: ${Math.round(backupSeconds)} s`);
      const loadRestore = loadAverage();
      const restoreStarted = performance.now();
      const destDb = `restored_${randomBytes(3).toString('hex')}`;
      await restoreBackup(context, { file: manifest.object, destDb, register: false });
      const restoreSeconds = (performance.now() - restoreStarted) / 1000;
      rows.push(
        summarise(
          `whole-database restore into a new database, ${size.toLocaleString('en')} tenants (verified)`,
          's',
          [restoreSeconds],
          undefined,
          `load average before ${loadRestore}`,
        ),
      );
      log(`${rows.at(-1)!.name}: ${Math.round(restoreSeconds)} s`);
      await sql.raw(`DROP DATABASE ${destDb} WITH (FORCE)`).execute(core.hosts.db('default'));
      await rm(folder, { recursive: true, force: true });
      await mkdir(folder);
    }

    // The no-op check: complete tenants plus version-table-only fillers up to `noop`.
    const model = `t_${String(0).padStart(6, '0')}`;
    if (options.noop > made) await addFillers(core, model, options.noop - made, set);
    const runner = new MigrationRunner(set);
    const seconds: number[] = [];
    const load = loadAverage();
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      const report = await upgradeFleet(core.hosts, core.registry, runner, {});
      seconds.push((performance.now() - started) / 1000);
      if (report.up_to_date !== Math.max(options.noop, made))
        throw new Error(`no-op check: ${report.up_to_date} up to date`);
    }
    rows.push(
      summarise(
        `no-op fleet check, ${Math.max(options.noop, made).toLocaleString('en')} tenants at head`,
        's',
        seconds,
        // The target is for 50,000 tenants: a smaller run is reported without it.
        Math.max(options.noop, made) >= 50_000 ? { text: '≤ 5 s at 50,000', ok: (m) => m <= 5 } : undefined,
        `load average before ${load}`,
      ),
    );
  } finally {
    await core.close();
    await pg.cleanup();
    await rm(folder, { recursive: true, force: true });
  }
  return rows;
}

export async function runScaleSection(
  options: { sizes: number[]; noop: number },
  command: string,
): Promise<void> {
  const rows = await scaleBench(options);
  await saveSection('scale', {
    title:
      'Fleet size: a new revision, backup and restore, the no-op check (PostgreSQL default lock settings)',
    command,
    measuredAt: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: machineDescription(),
    rows,
    notes: [
      'The server runs with max_connections 100 and max_locks_per_transaction 64 (PostgreSQL defaults: a lock table of 6,400 entries).',
      'Tenants are complete (every revision) and made in bulk before anything is measured: each is the exact SQL of tenant creation, 20 tenants per transaction on 2 connections, fsync off meanwhile, then fsync back on and a CHECKPOINT (bench/bulk-tenants.ts).',
      'The revision is a bench-only tenant revision chained after head: ALTER TABLE tasks ADD COLUMN + CREATE INDEX, applied by the fleet command (upgradeFleet, concurrency 4) to every tenant; each size gets a new one.',
      "Backup: createBackup (the CLI's --action backup), one exported snapshot, a main archive and parts of at most half the lock table (lock-budget.ts); restore: --dest-db into a new database, main archive then each part in one transaction, verified against the manifest.",
      'The no-op check is the fleet command finding every tenant at head; beyond the complete tenants the fleet is filled with schemas holding only a copy of a real version table (the check reads nothing else).',
      'Single runs (the fleet only grows); the load average shows how busy the shared machine was.',
    ],
  });
  for (const row of rows)
    console.log(
      `${row.name}: ${row.median} ${row.unit}${row.target ? ` target ${row.target}: ${row.met ? 'met' : 'NOT met'}` : ''}${row.note ? ` — ${row.note}` : ''}`,
    );
}
