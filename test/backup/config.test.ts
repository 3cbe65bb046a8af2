/**
 * Issue 7 "Must show": bad configuration — a missing section, an unknown engine, an unreachable server,
 * bad credentials, client programs missing or too old — gives a clear message and a non-zero exit code,
 * and touches nothing. Also: environment overrides and the no-config-file defaults.
 */
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_ENVIRONMENT, backupConfigFrom } from '../../src/backup/config.ts';
import { backupObjectName, parseBackupName } from '../../src/backup/naming.ts';
import { freePort } from '../../src/db/embedded.ts';
import type { TestDatabase } from '../helpers/database.ts';
import {
  backupTestDatabase,
  fingerprint,
  postgresSection,
  runCli,
  tempFolder,
  writeConfig,
} from './helpers.ts';

let database: TestDatabase;
let folder: string;
let store: string;

beforeAll(async () => {
  database = await backupTestDatabase();
  folder = await tempFolder('backup-config');
  store = path.join(folder, 'store');
});

const storeIsEmpty = async () => expect(await readdir(store).catch(() => [])).toEqual([]);

describe('backup config file (unit)', () => {
  const config = (text: string | undefined, env: Record<string, string> = {}) =>
    backupConfigFrom(text, text === undefined ? undefined : '/etc/tenantry/backup.config', env, '/srv/data');

  it('reads the predecessor format, quotes and comments included', () => {
    const parsed = config(
      [
        '# predecessor sample',
        '[setup]',
        "storage_engine='S3'",
        '[S3]',
        'bucket_name="db_backups.example.com"',
        'bucket_backup_path="postgresql"',
        '[local_storage]',
        'path=./backups/',
        '[postgresql]',
        'host=db.internal',
        'port=6543',
        'db=tenantry',
        'user=backup',
        'password=s3cret',
      ].join('\n'),
    );
    expect(parsed.storage).toMatchObject({
      engine: 'S3',
      bucket: 'db_backups.example.com',
      prefix: 'postgresql/',
      region: 'us-east-1',
      endpoint: undefined,
      forcePathStyle: false,
      credentials: undefined,
    });
    expect(parsed.postgres).toEqual({
      host: 'db.internal',
      port: 6543,
      database: 'tenantry',
      user: 'backup',
      password: 's3cret',
    });
  });

  it('lets environment variables override the file', () => {
    const parsed = config(
      '[setup]\nstorage_engine = LOCAL\n[local_storage]\npath = backups\n[postgresql]\nhost=a\ndb=b\nuser=c',
      {
        TENANTRY_BACKUP_STORAGE_ENGINE: 'S3',
        TENANTRY_BACKUP_S3_BUCKET: 'from-env',
        TENANTRY_BACKUP_S3_ENDPOINT: 'http://127.0.0.1:9000',
        AWS_ACCESS_KEY_ID: 'key',
        AWS_SECRET_ACCESS_KEY: 'secret',
        TENANTRY_BACKUP_PG_HOST: 'other-host',
        TENANTRY_BACKUP_PG_PASSWORD: 'pw',
      },
    );
    expect(parsed.storage).toMatchObject({
      engine: 'S3',
      bucket: 'from-env',
      forcePathStyle: true,
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
    });
    expect(parsed.postgres).toMatchObject({ host: 'other-host', port: 5432, password: 'pw' });
    expect(Object.keys(BACKUP_ENVIRONMENT)).toContain('TENANTRY_BACKUP_LOCAL_PATH');
  });

  it('defaults without a file: LOCAL in <DATA_DIR>/backups, the CLI database', () => {
    const parsed = config(undefined);
    expect(parsed.storage).toEqual({ engine: 'LOCAL', path: path.resolve('/srv/data/backups') });
    expect(parsed.postgres).toBeUndefined();
    expect(config('[setup]\n[local_storage]\npath = rel').storage).toEqual({
      engine: 'LOCAL',
      path: '/etc/tenantry/rel',
    });
  });

  it.each([
    ['', 'missing [setup] section'],
    ['[setup]\nstorage_engine = FTP', 'unknown storage_engine "FTP"'],
    ['[setup]\nstorage_engine = S3', 'no [S3] section'],
    ['[setup]\nstorage_engine = LOCAL', 'no [local_storage] section'],
    ['[setup]\n[local_storage]\npath=x\n[postgresql]\nhost=h', '[postgresql] is missing db, user'],
    [
      '[setup]\n[local_storage]\npath=x\n[postgresql]\nhost=h\ndb=d\nuser=u\nport=http',
      'port "http" is not a port',
    ],
    ['storage_engine = LOCAL', 'appears before any [section]'],
    [
      '[setup]\nstorage_engine = S3\n[S3]\nbucket_name=b\nendpoint=localhost:9000',
      'is not an http(s):// URL',
    ],
  ])('rejects %j: %s', (text, message) => {
    expect(() => config(text)).toThrow(message);
  });

  it('names backups so they sort by time and parse back', () => {
    const at = new Date('2026-11-26T12:49:41.123Z');
    const name = backupObjectName('my db', 'acme_1', at);
    expect(name).toBe('my_db--tenant-acme_1--20261126-124941-123Z.dump');
    expect(parseBackupName(name)).toMatchObject({
      database: 'my_db',
      kind: 'tenant',
      tenant: 'acme_1',
      createdAt: at,
    });
    expect(parseBackupName(backupObjectName('a--b', undefined, at))).toMatchObject({
      database: 'a--b',
      kind: 'database',
    });
    expect(parseBackupName('notes.txt')).toBeUndefined();
  });
});

describe('bad configuration through the CLI', { timeout: 60_000 }, () => {
  it.each([
    ['a missing [setup] section', { local_storage: { path: 'x' } }, 'missing [setup] section'],
    ['an unknown engine', { setup: { storage_engine: 'DROPBOX' } }, 'unknown storage_engine "DROPBOX"'],
    [
      'S3 without its section',
      { setup: { storage_engine: 'S3' } },
      'storage_engine is S3 but there is no [S3] section',
    ],
  ])('%s → exit 2 with a clear message', async (_what, sections, message) => {
    const configFile = await writeConfig(folder, { ...sections, postgresql: postgresSection(database.url) });
    const result = await runCli(['--configfile', configFile, '--action', 'backup']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });

  it('an unreachable server → exit 1 naming host and port, nothing stored', async () => {
    const port = await freePort();
    const configFile = await writeConfig(folder, {
      setup: { storage_engine: 'LOCAL' },
      local_storage: { path: store },
      postgresql: { ...postgresSection(database.url), port: String(port) },
    });
    const result = await runCli(['--configfile', configFile, '--action', 'backup']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach PostgreSQL at postgres@127.0.0.1:${port}`);
    await storeIsEmpty();
  });

  it('bad credentials → exit 1, nothing stored, nothing restored', async () => {
    const before = await fingerprint(database.url);
    const configFile = await writeConfig(folder, {
      setup: { storage_engine: 'LOCAL' },
      local_storage: { path: store },
      postgresql: { ...postgresSection(database.url), password: 'wrong-password' },
    });
    const results = await Promise.all(
      [['backup'], ['restore', '--date', '2026-01-01'], ['list_dbs']].map((action) =>
        runCli(['--configfile', configFile, '--action', ...action]),
      ),
    );
    for (const result of results) {
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /authentication failed for postgres@127\.0\.0\.1:\d+: check the \[postgresql\] user and password/,
      );
    }
    await storeIsEmpty();
    expect(await fingerprint(database.url)).toEqual(before);
  });

  it('missing or too old pg_dump → a message saying what to install, nothing stored', async () => {
    const empty = path.join(folder, 'no-bin');
    const old = path.join(folder, 'old-bin');
    await mkdir(empty, { recursive: true });
    await mkdir(old, { recursive: true });
    await writeFile(path.join(old, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
    await chmod(path.join(old, 'pg_dump'), 0o755);
    for (const [bin, message] of [
      [empty, `pg_dump was not found in ${empty}`],
      [old, 'is version 9.6.24, older than the server (PostgreSQL 15)'],
    ] as const) {
      const configFile = await writeConfig(folder, {
        setup: { storage_engine: 'LOCAL', pg_bin_dir: bin },
        local_storage: { path: store },
        postgresql: postgresSection(database.url),
      });
      const result = await runCli(['--configfile', configFile, '--action', 'backup']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain('apt-get install postgresql-client-15');
    }
    await storeIsEmpty();
  });

  it('bad flags → exit 2, before any database is opened', async () => {
    const cases = [
      [['--action', 'explode'], 'unknown --action "explode"'],
      [['--action', 'list', '--keep', '3'], '--keep applies to --action backup and --action prune'],
      [['--action', 'backup', '--keep', '0'], 'expected a whole number of at least 1'],
      [['--action', 'backup', '--tenant', 'Bad-Id'], '--tenant: tenant id must start with a-z'],
      [['--action', 'restore', '--date', '2026-01-01', '--file', 'x.dump'], 'exactly one of --date'],
      [['--action', 'list', '--bogus'], "Unknown option '--bogus'"],
    ] as const;
    const dataDir = path.join(folder, 'data-never-created');
    const results = await Promise.all(cases.map(([args]) => runCli([...args], { DATA_DIR: dataDir })));
    for (const [index, [args, message]] of cases.entries()) {
      expect(results[index]!.code, `${args.join(' ')}: ${results[index]!.stderr}`).toBe(2);
      expect(results[index]!.stderr).toContain(message);
    }
    // No embedded PostgreSQL was started for any of them.
    expect(await readdir(dataDir).catch(() => 'absent')).toBe('absent');
  });

  it('without --configfile uses DATABASE_URL and the environment overrides', async () => {
    const result = await runCli(['--action', 'list_dbs', '--verbose', 'true'], {
      DATABASE_URL: database.url,
      TENANTRY_BACKUP_LOCAL_PATH: store,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${database.name}\\s+\\d`, 'm'));
    expect(result.stderr).toContain(`storage local folder ${store}`);
  });
});
