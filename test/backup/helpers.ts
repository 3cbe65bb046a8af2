/**
 * Helpers for the backup tests: spawn the real CLI, write config files, seed tenants and fingerprint
 * every table's rows (md5 of the rows in a fixed order) to compare databases before and after.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import type { Core } from '../../src/core.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { runCliInProcess } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Environment for the CLI: no DATABASE_URL unless given, so only the config file decides. */
function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', ...extra };
  delete env.DATABASE_URL;
  for (const key of Object.keys(env))
    if (key.startsWith('TENANTRY_BACKUP_') || key.startsWith('AWS_')) delete env[key];
  // The AWS SDK warns on every run under Node 20 that its 2027 releases need Node 22 (see docs/backup.md);
  // silenced here so the tests can insist on an empty stderr.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return { ...env, ...extra };
}

export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'backup', ...args], {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so a test can SIGKILL the CLI together with its pg_restore/psql children.
    detached: true,
  });
}

/** The backup CLI in this process (test/helpers/cli.ts); spawnCli where a test must kill it. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCliInProcess(['backup', ...args], cliEnv(env));
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A folder under the OS temp folder, removed after the file. */
export async function tempFolder(label: string): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), `tenantry-${label}-`));
  onFileEnd(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

/** A Core on a fresh test database; after the file both are closed/dropped, with restore leftovers. */
export async function backupTestCore(): Promise<Core & { database: TestDatabase }> {
  const core = await testCore({ database: await backupTestDatabase() });
  onFileEnd(() => core.close());
  return core;
}

/** A fresh test database, dropped after the file together with every `<name>_…` database a restore made. */
export async function backupTestDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  onFileEnd(() => dropDatabases(database.name));
  return database;
}

export interface ConfigSections {
  setup?: Record<string, string> | null;
  local_storage?: Record<string, string> | null;
  S3?: Record<string, string> | null;
  postgresql?: Record<string, string> | null;
}

export async function writeConfig(folder: string, sections: ConfigSections): Promise<string> {
  const file = path.join(folder, `backup-${randomBytes(4).toString('hex')}.config`);
  const text = Object.entries(sections)
    .filter(([, values]) => values)
    .map(
      ([name, values]) =>
        `[${name}]\n${Object.entries(values!)
          .map(([k, v]) => `${k} = ${v}`)
          .join('\n')}\n`,
    )
    .join('\n');
  await writeFile(file, text);
  return file;
}

/** [postgresql] settings for a database URL. */
export function postgresSection(url: string): Record<string, string> {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: parsed.port,
    db: parsed.pathname.slice(1),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function query<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** `schema.table` → md5 of its rows in text order, for every user table (or those of `schemas`). */
export async function fingerprint(url: string, schemas?: string[]): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ schema: string; table: string }>(
      `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND ($1::text[] IS NULL OR n.nspname = ANY ($1)) ORDER BY 1, 2`,
      [schemas ?? null],
    );
    const result: Record<string, string> = {};
    for (const { schema, table } of rows) {
      const qualified = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)}`;
      const hashed = await client.query<{ md5: string; n: string }>(
        `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5, count(*) AS n FROM ${qualified} t`,
      );
      result[`${schema}.${table}`] = `${hashed.rows[0]!.n}:${hashed.rows[0]!.md5}`;
    }
    return result;
  } finally {
    await client.end();
  }
}

/** A tenant with `users` extra users and an extra `notes` table, through the real tenant service. */
export async function seedTenant(core: Core, users: number): Promise<string> {
  const tenantId = `bk_${randomBytes(5).toString('hex')}`;
  await core.tenants.create({ name: `Backup test ${tenantId}`, tenantId });
  const url = core.hosts.url('default');
  const schema = `"${tenantId}"`;
  await query(
    url,
    `INSERT INTO ${schema}.users (email, first_name, role_id)
       SELECT 'user' || g || '@example.test', 'User ' || g, (SELECT id FROM ${schema}.roles WHERE name = 'MEMBER')
         FROM generate_series(1, $1::int) g`,
    [users],
  );
  await query(url, `CREATE TABLE ${schema}.notes (id serial PRIMARY KEY, body text NOT NULL)`);
  await query(
    url,
    `INSERT INTO ${schema}.notes (body) SELECT md5(g::text) FROM generate_series(1, $1::int) g`,
    [users],
  );
  return tenantId;
}

/** Drops the databases whose names start with `prefix`. */
async function dropDatabases(prefix: string): Promise<void> {
  const admin = inject('pgAdminUrl');
  const rows = await query<{ datname: string }>(
    admin,
    'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
    [prefix],
  );
  for (const { datname } of rows) await query(admin, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
}

/**
 * The UTC day (`YYYY-MM-DD`) a backup was taken, read from its stored name (`…--20261126-130832-653Z.dump`):
 * `--date` of that backup even when the test runs across midnight.
 */
export function dateOf(name: string): string {
  const found = /--(\d{4})(\d{2})(\d{2})-\d{6}-\d{3}Z\.dump/.exec(name);
  if (!found) throw new Error(`no backup name in: ${name}`);
  return `${found[1]}-${found[2]}-${found[3]}`;
}
