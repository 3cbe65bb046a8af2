/**
 * Issue 15 / issue 13, tenant restores:
 * - a tenant restore takes the tenant's migration lock (the runner's advisory lock), so it waits for a
 *   migration of the same schema instead of interleaving with it;
 * - `--register` without `--dest-schema` is refused (exit 2) before anything is touched; a tenant missing
 *   from the registry comes back under its own id with `--dest-schema <id> --register`.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.ts';
import {
  backupTestCore,
  dateOf,
  fingerprint,
  postgresSection,
  query,
  runCli,
  seedTenant,
  tempFolder,
  writeConfig,
} from './helpers.ts';

let core: Core & { database: { name: string; url: string } };
let url: string;
let configFile: string;
let tenant: string;
let day: string;
let seeded: Record<string, string>;

beforeAll(async () => {
  core = await backupTestCore();
  url = core.database.url;
  tenant = await seedTenant(core, 20);
  const folder = await tempFolder('backup-tenant-rules');
  configFile = await writeConfig(folder, {
    setup: { storage_engine: 'LOCAL' },
    local_storage: { path: path.join(folder, 'store') },
    postgresql: postgresSection(url),
  });
  seeded = await fingerprint(url, [tenant]);
  const backup = await runCli(['--configfile', configFile, '--action', 'backup', '--tenant', tenant]);
  expect(backup.code).toBe(0);
  day = dateOf(backup.stdout);
});

const restore = (...extra: string[]) =>
  runCli(['--configfile', configFile, '--action', 'restore', '--date', day, '--tenant', tenant, ...extra]);

/** Resolves once a session of this test's database waits for an advisory lock. */
async function advisoryWaiter(): Promise<'waiting'> {
  for (;;) {
    const rows = await query<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    if (rows[0]!.n > 0) return 'waiting';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('tenant restore', { timeout: 120_000 }, () => {
  it('waits for a migration of the same schema (its migration lock) instead of interleaving', async () => {
    await query(url, `DELETE FROM "${tenant}".notes WHERE id % 2 = 0`);
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const target = { host: 'default', db: core.hosts.db('default'), schema: tenant };
    // A "migration" of the tenant in progress: the runner's lock, held until released.
    const migrating = core.tenantRunner.withSchemaLock(
      target,
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
          locked();
        }),
    );
    await isLocked;
    const restoring = restore();
    // Before the fix the restore finished while the lock was held.
    const first = await Promise.race([restoring.then(() => 'finished' as const), advisoryWaiter()]);
    release();
    await migrating;
    expect(first).toBe('waiting');
    const result = await restoring;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await fingerprint(url, [tenant])).toEqual(seeded);
  });

  it('refuses --register without --dest-schema (exit 2) and changes nothing', async () => {
    await query(url, `DELETE FROM "${tenant}".notes WHERE id < 5`);
    const before = await fingerprint(url);
    const result = await restore('--register');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--register needs --dest-schema NAME');
    expect(await fingerprint(url)).toEqual(before);
  });

  it('brings a tenant missing from the registry back under its own id with --dest-schema <id> --register', async () => {
    await query(url, 'DELETE FROM public.tenants WHERE tenant_id = $1', [tenant]);
    const refused = await restore();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`pass --dest-schema ${tenant} --register`);

    const result = await restore('--dest-schema', tenant, '--register');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await fingerprint(url, [tenant])).toEqual(seeded);
    const rows = await query<{ status: string }>(
      url,
      'SELECT status FROM public.tenants WHERE tenant_id = $1',
      [tenant],
    );
    expect(rows).toEqual([{ status: 'active' }]);
  });
});
