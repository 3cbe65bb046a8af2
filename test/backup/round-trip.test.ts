/**
 * Issue 7 "Must show": round trips through the real CLI, pg_dump/pg_restore and PostgreSQL.
 * - whole database: seed two tenants → backup → change and delete data → restore in place → every table
 *   equals the seeded state;
 * - one tenant in place: only that tenant goes back, the other keeps its changes;
 * - into a new database and a tenant into a new schema: the source stays untouched.
 */
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { Core } from '../../src/core.ts';
import {
  backupTestCore,
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
const today = () => new Date().toISOString().slice(0, 10);

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

/** `--action restore --date <today>` with this file's config, plus `extra` flags. */
function restoreToday(...extra: string[]) {
  return runCli(['--configfile', configFile, '--action', 'restore', '--date', today(), ...extra]);
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

    await mutate(tenantA);
    await mutate(tenantB);
    await query(url, `DROP TABLE "${tenantB}".notes`);
    await query(url, `DELETE FROM public.tenants WHERE tenant_id = $1`, [tenantA]);
    expect(await fingerprint(url)).not.toEqual(seeded);

    const restore = await restoreToday();
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

    await mutate(tenantA);
    await query(url, `DROP TABLE "${tenantA}".notes`);
    await mutate(tenantB);
    const changedB = await fingerprint(url, [tenantB]);
    await query(url, `UPDATE public.tenants SET revision = 'bogus' WHERE tenant_id = $1`, [tenantA]);

    const restore = await restoreToday('--tenant', tenantA);
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
    const restore = await restoreToday('--dest-db', destDb);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(await fingerprint(url)).toEqual(before);
    const copy = await fingerprint(withDatabase(url, destDb));
    expect(Object.keys(copy)).toContain('public.tenants');

    const again = await restoreToday('--dest-db', destDb);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`database ${destDb} already exists`);
  });

  it('copies a tenant into a new schema, registered only with --register', async () => {
    const before = await fingerprint(url);
    const copyName = `${tenantA}_copy`;
    const plain = await restoreToday('--tenant', tenantA, '--dest-schema', copyName);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    const after = await fingerprint(url);
    const sourceTables = Object.keys(before).filter((key) => key.startsWith(`${tenantA}.`));
    for (const key of sourceTables) {
      expect(after[key]).toBe(before[key]);
      expect(after[key.replace(`${tenantA}.`, `${copyName}.`)]).toBeDefined();
    }
    expect(await query(url, 'SELECT 1 FROM public.tenants WHERE tenant_id = $1', [copyName])).toEqual([]);

    const registered = `${tenantA}_reg`;
    const withRegister = await restoreToday('--tenant', tenantA, '--dest-schema', registered, '--register');
    expect(withRegister.code).toBe(0);
    expect(withRegister.stdout).toContain('registered in public.tenants');
    const rows = await query<{ status: string; revision: string }>(
      url,
      'SELECT status, revision FROM public.tenants WHERE tenant_id = $1',
      [registered],
    );
    expect(rows).toEqual([{ status: 'active', revision: core.tenantRunner.set.head }]);
    const source = await fingerprint(url, [tenantA]);
    const beforeSource = Object.fromEntries(sourceTables.map((key) => [key, before[key]]));
    expect(source).toEqual(beforeSource);
  });
});
