/**
 * Issue 15, backups at fleet size: a whole-database backup of more tenants than one pg_dump can lock on
 * the server. The test server is started with a lock table of max_locks_per_transaction 10 ×
 * max_connections 41 = 410 locks — on it one pg_dump of the database (as before: every table of 30
 * tenants, ~29 locks each) fails with "out of shared memory", exactly as 1,000 tenants do on PostgreSQL's
 * defaults (64 × 100). The backup is cut into parts of tenant schemas from one snapshot, the round trip
 * gives back every row, and a schema too large for any step is refused up front with the setting to raise.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/backup/manifest.ts';
import { loadConfig } from '../../src/config.ts';
import { type Core, openCore } from '../../src/core.ts';
import { ServerGroup } from '../setup/server-group.ts';
import {
  dateOf,
  fingerprint,
  postgresSection,
  query,
  runCli,
  tempFolder,
  withDatabase,
  writeConfig,
} from './helpers.ts';

const TENANTS = 30;

const group = new ServerGroup();
let core: Core;
let url: string;
let configFile: string;
let store: string;

beforeAll(async () => {
  const server = await group.start('fleet-locks', {
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_locks_per_transaction: '10',
    max_connections: '41',
  });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('CREATE DATABASE fleet');
  await admin.end();
  url = withDatabase(server.url, 'fleet');
  core = await openCore(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), {
    defaultDatabaseUrl: url,
    poolSize: 2,
  });
  await core.migratePublic();
  for (let i = 0; i < TENANTS; i++) {
    const tenantId = `fleet_${String(i).padStart(2, '0')}`;
    await core.tenants.create({ name: `Fleet ${i}`, tenantId });
    await query(
      url,
      `INSERT INTO "${tenantId}".users (email, first_name, role_id)
         SELECT 'user' || g || '@example.test', 'User ' || g, (SELECT id FROM "${tenantId}".roles WHERE name = 'MEMBER')
           FROM generate_series(1, 5) g`,
    );
    // Values large enough to be toasted: pg_dump reads them through the toast tables.
    await query(url, `CREATE TABLE "${tenantId}".notes (id serial PRIMARY KEY, body text NOT NULL)`);
    await query(
      url,
      `INSERT INTO "${tenantId}".notes (body) SELECT string_agg(md5(g::text || n::text), '') FROM generate_series(1, 3) n, generate_series(1, 400) g GROUP BY n`,
    );
  }
  const folder = await tempFolder('backup-fleet');
  store = path.join(folder, 'store');
  configFile = await writeConfig(folder, {
    setup: { storage_engine: 'LOCAL' },
    local_storage: { path: store },
    postgresql: postgresSection(url),
  });
}, 300_000);

afterAll(async () => {
  await core?.close();
  await group.stop();
});

describe('whole-database backup beyond one pg_dump lock table', { timeout: 300_000 }, () => {
  it('backs up in parts from one snapshot and restores every row', async () => {
    const seeded = await fingerprint(url);
    expect(Object.keys(seeded).filter((key) => key.endsWith('.users'))).toHaveLength(TENANTS);

    const backup = await runCli(['--configfile', configFile, '--action', 'backup']);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^stored \S+--database--\S+\.dump and \d+ parts in local folder/);
    const object = /^stored (\S+)/.exec(backup.stdout)![1]!;
    const manifest = JSON.parse(
      await readFile(path.join(store, `${object}.manifest.json`), 'utf8'),
    ) as Manifest;
    // Parts of at most half the lock table (205 relations: two tenants of ~100) cover every tenant once.
    expect(manifest.format).toBe(2);
    const inParts = manifest.parts!.flatMap((part) => part.schemas);
    expect(inParts.sort()).toEqual(
      Array.from({ length: TENANTS }, (_, i) => `fleet_${String(i).padStart(2, '0')}`),
    );
    expect(manifest.parts!.every((part) => part.schemas.length <= 2)).toBe(true);

    await query(url, 'DELETE FROM fleet_03.users');
    await query(url, "UPDATE fleet_29.users SET first_name = 'changed'");
    await query(url, 'DROP SCHEMA fleet_17 CASCADE');
    expect(await fingerprint(url)).not.toEqual(seeded);

    const restore = await runCli([
      '--configfile',
      configFile,
      '--action',
      'restore',
      '--date',
      dateOf(backup.stdout),
    ]);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    // The pool's connections went with the replaced database.
    await core.close();
    core = await openCore(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), {
      defaultDatabaseUrl: url,
      poolSize: 2,
    });
    expect(await fingerprint(url)).toEqual(seeded);
  });

  it('refuses a schema no step can lock, before dumping anything, naming the setting to raise', async () => {
    // One more tenant with 300 extra tables: more relations than half the lock table.
    await core.tenants.create({ name: 'Huge', tenantId: 'huge' });
    for (let i = 0; i < 300; i++) await query(url, `CREATE TABLE huge.extra_${i} (id int)`);
    const before = await runCli(['--configfile', configFile, '--action', 'list']);
    const backup = await runCli(['--configfile', configFile, '--action', 'backup']);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toContain('schema huge has');
    expect(backup.stderr).toContain('max_locks_per_transaction (10) × (max_connections (41)');
    expect(backup.stderr).toContain('raise max_locks_per_transaction');
    const after = await runCli(['--configfile', configFile, '--action', 'list']);
    expect(after.stdout).toBe(before.stdout);
  });
});
