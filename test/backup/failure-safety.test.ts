/**
 * Issue 7 "Must show": a corrupted archive (bytes changed, or truncated) and a restore killed half-way
 * (SIGKILL of the CLI and its pg_restore/psql) leave the live database exactly as it was; --date without
 * a backup that day is a clear error.
 */
import { copyFile, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { Core } from '../../src/core.ts';
import {
  backupTestCore,
  collect,
  dateOf,
  fingerprint,
  postgresSection,
  query,
  runCli,
  seedTenant,
  spawnCli,
  tempFolder,
  writeConfig,
} from './helpers.ts';

let core: Core & { database: { name: string; url: string } };
let url: string;
let store: string;
let configFile: string;
let tenant: string;
let scratch: string;

beforeAll(async () => {
  core = await backupTestCore();
  url = core.database.url;
  tenant = await seedTenant(core, 100);
  // Enough rows that pg_restore runs for a while, so the kill lands in the middle of it.
  await query(url, `CREATE TABLE "${tenant}".bulk (id int PRIMARY KEY, body text NOT NULL)`);
  await query(url, `INSERT INTO "${tenant}".bulk SELECT g, md5(g::text) FROM generate_series(1, 400000) g`);
  const folder = await tempFolder('backup-failures');
  store = path.join(folder, 'store');
  scratch = path.join(folder, 'tmp');
  await mkdir(scratch);
  configFile = await writeConfig(folder, {
    setup: { storage_engine: 'LOCAL' },
    local_storage: { path: store },
    postgresql: postgresSection(url),
  });
  for (const args of [[], ['--tenant', tenant]]) {
    const result = await runCli(['--configfile', configFile, '--action', 'backup', ...args]);
    expect(result.code, result.stderr).toBe(0);
  }
  // The live database moves on after the backups: "as before" below means this state, not the backup's.
  await query(url, `DELETE FROM "${tenant}".users WHERE id % 2 = 0`);
  await query(url, `UPDATE "${tenant}".bulk SET body = 'after' WHERE id <= 1000`);
  // 400,000 rows and two pg_dumps: over a minute when the whole suite loads a 2-core machine.
}, 180_000);

async function archive(kind: 'database' | 'tenant'): Promise<string> {
  const names = (await readdir(store)).filter((name) => name.endsWith('.dump') && name.includes(`--${kind}`));
  expect(names).toHaveLength(1);
  return path.join(store, names[0]!);
}

async function leftoverDatabases(): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    inject('pgAdminUrl'),
    'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
    [`${core.database.name}_`],
  );
  return rows.map((row) => row.datname);
}

async function tenantSchemas(): Promise<string[]> {
  const rows = await query<{ nspname: string }>(
    url,
    'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
    [tenant],
  );
  return rows.map((row) => row.nspname).sort();
}

/**
 * A corrupted copy of an archive under a name of its own (with the good checksum file and manifest),
 * so the corruption cases run side by side and the good archive stays intact.
 */
async function corruptedCopy(file: string, index: number, corrupt: (file: string) => Promise<void>) {
  const copy = file.replace(/--\d{8}-\d{6}-\d{3}Z\.dump$/, `--20010101-00000${index}-000Z.dump`);
  for (const suffix of ['', '.sha256', '.manifest.json']) await copyFile(file + suffix, copy + suffix);
  await corrupt(copy);
  return path.basename(copy);
}

const flipBytes = async (file: string) => {
  const bytes = await readFile(file);
  for (let i = 0; i < 16; i++) bytes[Math.floor(bytes.length / 2) + i]! ^= 0xff;
  await writeFile(file, bytes);
};
const cutInHalf = async (file: string) => {
  const bytes = await readFile(file);
  await truncate(file, Math.floor(bytes.length / 2));
};

describe('restore failure safety', { timeout: 60_000 }, () => {
  it('refuses archives with changed bytes or truncated, database and tenant, and changes nothing', async () => {
    const before = await fingerprint(url);
    const [database, tenantArchive] = [await archive('database'), await archive('tenant')];
    const cases = [
      [database, flipBytes],
      [database, cutInHalf],
      [tenantArchive, flipBytes],
      [tenantArchive, cutInHalf],
    ] as const;
    const copies = await Promise.all(
      cases.map(([file, corrupt], index) => corruptedCopy(file, index, corrupt)),
    );
    const results = await Promise.all(
      copies.map((copy) => runCli(['--configfile', configFile, '--action', 'restore', '--file', copy])),
    );
    for (const [index, result] of results.entries()) {
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `refusing to restore ${copies[index]}: checksum mismatch .*the archive is corrupted; nothing was changed`,
        ),
      );
    }
    expect(await fingerprint(url)).toEqual(before);
    expect(await leftoverDatabases()).toEqual([]);
    expect(await tenantSchemas()).toEqual([tenant]);
    for (const copy of copies) {
      for (const suffix of ['', '.sha256', '.manifest.json']) await rm(path.join(store, copy + suffix));
    }
  });

  it('a whole-database restore killed during pg_restore leaves the live database as it was', async () => {
    const before = await fingerprint(url);
    // TMPDIR: the killed CLI cannot remove its download folder; keep it inside this file's temp folder.
    const date = dateOf(await archive('database'));
    const child = spawnCli(['--configfile', configFile, '--action', 'restore', '--date', date], {
      TMPDIR: scratch,
    });
    const result = collect(child);
    const admin = inject('pgAdminUrl');
    let copying = false;
    for (let i = 0; i < 400 && !copying; i++) {
      const active = await query(
        admin,
        `SELECT 1 FROM pg_stat_activity
          WHERE application_name = 'pg_restore' AND starts_with(datname, $1) AND query ILIKE 'COPY%'`,
        [`${core.database.name}_restore_`],
      );
      copying = active.length > 0;
      if (!copying) await sleep(20);
    }
    process.kill(-child.pid!, 'SIGKILL');
    expect(copying, 'the kill landed while pg_restore was copying rows').toBe(true);
    const { code, stdout } = await result;
    expect(code).toBeNull();
    expect(stdout).toBe('');
    expect(await fingerprint(url)).toEqual(before);
    // What a kill leaves behind is only the temporary database, named after the live one.
    for (const name of await leftoverDatabases())
      expect(name).toMatch(new RegExp(`^${core.database.name}_restore_`));
  });

  it('a tenant restore killed while loading leaves the tenant as it was', async () => {
    const before = await fingerprint(url);
    const child = spawnCli(
      [
        '--configfile',
        configFile,
        '--action',
        'restore',
        '--date',
        dateOf(await archive('tenant')),
        '--tenant',
        tenant,
      ],
      { TMPDIR: scratch },
    );
    const result = collect(child);
    const loading = () =>
      query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'psql' AND datname = current_database()",
      );
    let copying = false;
    for (let i = 0; i < 400 && !copying; i++) {
      const active = await query(
        url,
        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'psql' AND datname = current_database() AND query ILIKE 'COPY%'",
      );
      copying = active.length > 0;
      if (!copying) await sleep(20);
    }
    process.kill(-child.pid!, 'SIGKILL');
    expect(copying, 'the kill landed while psql was loading rows').toBe(true);
    expect((await result).code).toBeNull();
    // The server rolls the load transaction back once it sees the connection gone.
    for (let i = 0; i < 200 && (await loading()).length > 0; i++) await sleep(25);
    expect(await fingerprint(url)).toEqual(before);
    expect(await tenantSchemas()).toEqual([tenant]);
  });

  it('--date without a backup that day is a clear error', async () => {
    const before = await fingerprint(url);
    const [result, bad] = await Promise.all([
      runCli(['--configfile', configFile, '--action', 'restore', '--date', '2001-02-03']),
      runCli(['--configfile', configFile, '--action', 'restore', '--date', '2001-02-30x']),
    ]);
    expect(result.code).toBe(2); // names no backup: exit 2 in every group (test/cli/exit-codes.test.ts)
    expect(result.stderr).toContain(
      `no complete whole-database backup of database ${core.database.name} on 2001-02-03`,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected YYYY-MM-DD');
    expect(await fingerprint(url)).toEqual(before);
  });

  it('refuses a backup whose checksum file is missing (an interrupted backup)', async () => {
    const file = await archive('database');
    const checksum = await readFile(`${file}.sha256`);
    await writeFile(`${file}.sha256.bak`, checksum);
    await rm(`${file}.sha256`);
    try {
      const result = await runCli([
        '--configfile',
        configFile,
        '--action',
        'restore',
        '--file',
        path.basename(file),
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('has no checksum file');
    } finally {
      await writeFile(`${file}.sha256`, checksum);
      await rm(`${file}.sha256.bak`);
    }
  });
});
