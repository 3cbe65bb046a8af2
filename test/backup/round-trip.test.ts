/**
 * Issue 7 "Must show": round trips through the real CLI, pg_dump/pg_restore and PostgreSQL.
 * - whole database: seed two tenants → backup → change and delete data → restore in place → every table
 *   equals the seeded state;
 * - one tenant in place: only that tenant goes back, the other keeps its changes;
 * - into a new database and a tenant into a new schema: the copy holds exactly the backed-up rows (table by
 *   table, compared with the fingerprint taken at backup time) and the source stays untouched.
 */
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
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
  withDatabase,
  writeConfig,
} from './helpers.ts';

let core: Core & { database: { name: string; url: string } };
let url: string;
let configFile: string;
let tenantA: string;
let tenantB: string;
/** The database-wide backup of the first test: its stored name and every table's rows at that moment. */
let databaseBackup: { day: string; rows: Record<string, string> } | undefined;
/** The tenant backup of the second test, likewise (tenantA's tables only). */
let tenantBackup: { day: string; rows: Record<string, string> } | undefined;

beforeAll(async () => {
  core = await backupTestCore();
  url = core.database.url;
  tenantA = await seedTenant(core, 300);
  tenantB = await seedTenant(core, 200);
  const folder = await tempFolder('backup-roundtrip');
  configFile = await writeConfig(folder, {
    setup: { storage_engine: 'LOCAL' },
    local_storage: { path: path.join(folder, 'store') },
    postgresql: postgresSection(url),
  });
});

/**
 * `--action restore --date <day>` with this file's config, plus `extra` flags. The day is the one in the
 * backup's stored name (not "today", which changes if the run crosses UTC midnight).
 */
function restoreOf(day: string, ...extra: string[]) {
  return runCli(['--configfile', configFile, '--action', 'restore', '--date', day, ...extra]);
}

/** `schema.table` keys of a fingerprint renamed to another schema. */
function renamed(rows: Record<string, string>, from: string, to: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(rows).map(([key, value]) => [key.replace(`${from}.`, `${to}.`), value]),
  );
}

async function mutate(tenant: string): Promise<void> {
  await query(url, `DELETE FROM "${tenant}".users WHERE id % 3 = 0`);
  await query(url, `UPDATE "${tenant}".notes SET body = 'changed' WHERE id < 50`);
  await query(url, `INSERT INTO "${tenant}".notes (body) VALUES ('new after backup')`);
}

describe('backup and restore round trip', { timeout: 60_000 }, () => {
  it('restores the whole database in place to exactly the backed-up state', async () => {
    const seeded = await fingerprint(url);
    expect(Object.keys(seeded)).toEqual(
      expect.arrayContaining([`${tenantA}.users`, `${tenantB}.notes`, 'public.tenants']),
    );
    const backup = await runCli(['--configfile', configFile, '--action', 'backup']);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^stored \S+--database--\S+\.dump in local folder/);
    databaseBackup = { day: dateOf(backup.stdout), rows: seeded };

    await mutate(tenantA);
    await mutate(tenantB);
    await query(url, `DROP TABLE "${tenantB}".notes`);
    await query(url, `DELETE FROM public.tenants WHERE tenant_id = $1`, [tenantA]);
    expect(await fingerprint(url)).not.toEqual(seeded);

    const restore = await restoreOf(databaseBackup.day);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`into database ${core.database.name} (replaced)`);
    expect(await fingerprint(url)).toEqual(seeded);
    // The temporary and the previous database are gone.
    const leftovers = await query(
      inject('pgAdminUrl'),
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [`${core.database.name}_`],
    );
    expect(leftovers).toEqual([]);
  });

  it('restores one tenant in place and leaves the other tenant alone', async () => {
    const seededA = await fingerprint(url, [tenantA]);
    const backup = await runCli(['--configfile', configFile, '--action', 'backup', '--tenant', tenantA]);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain(`--tenant-${tenantA}--`);
    tenantBackup = { day: dateOf(backup.stdout), rows: seededA };

    await mutate(tenantA);
    await query(url, `DROP TABLE "${tenantA}".notes`);
    await mutate(tenantB);
    const changedB = await fingerprint(url, [tenantB]);
    await query(url, `UPDATE public.tenants SET revision = 'bogus' WHERE tenant_id = $1`, [tenantA]);

    const restore = await restoreOf(tenantBackup.day, '--tenant', tenantA);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(await fingerprint(url, [tenantA])).toEqual(seededA);
    expect(await fingerprint(url, [tenantB])).toEqual(changedB);
    const [registry] = await query<{ revision: string }>(
      url,
      'SELECT revision FROM public.tenants WHERE tenant_id = $1',
      [tenantA],
    );
    expect(registry?.revision).toBe(core.tenantRunner.set.head);
    const schemas = await query<{ nspname: string }>(
      url,
      'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
      [tenantA],
    );
    expect(schemas.map((row) => row.nspname)).toEqual([tenantA]);
  });

  it('restores into a new database and leaves the source untouched', async () => {
    const before = await fingerprint(url);
    const destDb = `${core.database.name}_copy`;
    const restore = await restoreOf(databaseBackup!.day, '--dest-db', destDb);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(await fingerprint(url)).toEqual(before);
    // The copy holds the backed-up rows, table by table — not the live database's since-changed ones.
    const copy = await fingerprint(withDatabase(url, destDb));
    expect(Object.keys(copy)).toContain('public.tenants');
    expect(copy).toEqual(databaseBackup!.rows);
    expect(copy).not.toEqual(before);

    const again = await restoreOf(databaseBackup!.day, '--dest-db', destDb);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`database ${destDb} already exists`);
  });

  it('copies a tenant into a new schema, registered only with --register', async () => {
    const before = await fingerprint(url);
    const copyName = `${tenantA}_copy`;
    // The source moves on after its backup: the copy must hold the backup's rows, not today's.
    await mutate(tenantA);
    const source = await fingerprint(url, [tenantA]);
    const plain = await restoreOf(tenantBackup!.day, '--tenant', tenantA, '--dest-schema', copyName);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(await fingerprint(url, [tenantA])).toEqual(source);
    expect(await fingerprint(url, [copyName])).toEqual(renamed(tenantBackup!.rows, tenantA, copyName));
    expect(await query(url, 'SELECT 1 FROM public.tenants WHERE tenant_id = $1', [copyName])).toEqual([]);

    const registered = `${tenantA}_reg`;
    const withRegister = await restoreOf(
      tenantBackup!.day,
      '--tenant',
      tenantA,
      '--dest-schema',
      registered,
      '--register',
    );
    expect(withRegister.code).toBe(0);
    expect(withRegister.stdout).toContain('registered in public.tenants');
    const rows = await query<{ status: string; revision: string }>(
      url,
      'SELECT status, revision FROM public.tenants WHERE tenant_id = $1',
      [registered],
    );
    expect(rows).toEqual([{ status: 'active', revision: core.tenantRunner.set.head }]);
    expect(await fingerprint(url, [registered])).toEqual(renamed(tenantBackup!.rows, tenantA, registered));
    expect(await fingerprint(url, [tenantA])).toEqual(source);
    // Outside tenantA, its two copies and the registry, no row changed.
    const others = (rows: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(rows).filter(([key]) => !key.startsWith(tenantA) && !key.startsWith('public.')),
      );
    expect(others(await fingerprint(url))).toEqual(others(before));
  });
});
