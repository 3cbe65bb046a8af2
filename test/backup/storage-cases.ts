/**
 * The storage-engine tests, run once per engine (storage-local.test.ts, storage-s3.test.ts — two files
 * so they run in parallel): `list` newest first with size, date, kind and checksum; `--keep` pruning per
 * series; a restore read back from the engine.
 */
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.ts';
import {
  backupTestCore,
  type ConfigSections,
  dateOf,
  fingerprint,
  postgresSection,
  query,
  runCli,
  seedTenant,
  tempFolder,
  writeConfig,
} from './helpers.ts';

interface ListedRow {
  backup: string;
  kind: string;
  tenant: string;
  size: string;
  checksum: string;
}

/** Parses the `list` table (columns split on two or more spaces). */
function parseList(stdout: string): ListedRow[] {
  return stdout
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => {
      const [backup, kind, tenantId, size, created, checksum] = line.split(/\s{2,}/);
      expect(created).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      return { backup: backup!, kind: kind!, tenant: tenantId!, size: size!, checksum: checksum! };
    });
}

/** `storage` gives the config sections of the engine under test (folder: a temp folder for it). */
export function storageEngineTests(storage: (folder: string) => Promise<ConfigSections>): void {
  let core: Core & { database: { name: string; url: string } };
  let url: string;
  let tenant: string;
  let configFile: string;
  /** The day of the tenant backups the first test made (a UTC day; the test may cross midnight). */
  let tenantBackupDay = '';
  const cli = (...args: string[]) => runCli(['--configfile', configFile, ...args]);

  beforeAll(async () => {
    core = await backupTestCore();
    url = core.database.url;
    tenant = await seedTenant(core, 50);
    const folder = await tempFolder('backup-storage');
    configFile = await writeConfig(folder, { ...(await storage(folder)), postgresql: postgresSection(url) });
  });

  it('lists backups newest first and --keep prunes the oldest of the same series', async () => {
    const made: string[] = [];
    for (const args of [[], ['--tenant', tenant], ['--tenant', tenant], ['--keep', '1']]) {
      const result = await cli('--action', 'backup', ...args);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      made.push(/^stored (\S+)/.exec(result.stdout)![1]!);
    }
    const [db1, t1, t2, db2] = made;
    tenantBackupDay = dateOf(t2!);
    expect(made.slice(3).join()).toMatch(/--database--/);
    const list = await cli('--action', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^backup\s+kind\s+tenant\s+size\s+created \(UTC\)\s+checksum\n/);
    const listed = parseList(list.stdout);
    // --keep 1 on the last database backup pruned db1; the tenant backups are another series and stay.
    expect(listed.map((row) => row.backup)).toEqual([db2, t2, t1]);
    expect(listed.map((row) => row.kind)).toEqual(['database', 'tenant', 'tenant']);
    expect(listed.map((row) => row.tenant)).toEqual(['-', tenant, tenant]);
    for (const row of listed) {
      expect(row.checksum).toBe('yes');
      expect(row.size).toMatch(/^\d+(\.\d)? (B|kB|MB)$/);
    }
    expect(list.stdout).not.toContain(db1);

    const pruned = await cli('--action', 'prune', '--keep', '1', '--tenant', tenant);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout.trim()).toBe(`pruned ${t1}`);
    const after = parseList((await cli('--action', 'list')).stdout);
    expect(after.map((row) => row.backup)).toEqual([db2, t2]);
    // Seven CLI runs, each a new Node process: generous for loaded CI machines.
  }, 90_000);

  it('restores a tenant from what it stored', async () => {
    const before = await fingerprint(url, [tenant]);
    await query(url, `DELETE FROM "${tenant}".notes`);
    const result = await cli('--action', 'restore', '--date', tenantBackupDay, '--tenant', tenant);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await fingerprint(url, [tenant])).toEqual(before);
  });
}
