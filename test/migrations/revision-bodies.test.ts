/**
 * How revisions are sent (src/migrations/runner.ts): SQL text as one query, a function as it is written,
 * against the real runner and PostgreSQL. The real revisions (SQL text) give the same catalog and seed data
 * as their former statement-by-statement versions (bench/fixtures/statement-revisions); a revision with
 * logic (catching an error with a savepoint) behaves exactly as written; a failure leaves nothing; the
 * advisory lock follows the database's identity, not the configured host name.
 */
import { fileURLToPath } from 'node:url';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import {
  loadMigrationSet,
  type Migration,
  type MigrationBody,
  MigrationSet,
} from '../../src/migrations/migration-set.ts';
import { MigrationFailedError, MigrationRunner, type SchemaTarget } from '../../src/migrations/runner.ts';
import { TenantService } from '../../src/tenancy/tenant-service.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const target = (schema: string): SchemaTarget => ({ host: DEFAULT_HOST, db, schema });
const textRunner = core.tenantRunner;
const statementRunner = new MigrationRunner(
  await loadMigrationSet(
    'tenant',
    fileURLToPath(new URL('../../bench/fixtures/statement-revisions/', import.meta.url)),
  ),
);

/** A tenant-set revision defined in the test (no file). */
function revision(revision: string, up: MigrationBody, down: MigrationBody = ''): Migration {
  return {
    revision,
    name: `2026_01_01_0000-${revision}_test`,
    file: `${revision}.ts`,
    description: 'test revision',
    follows: null,
    up,
    down,
    checksum: `v2:${revision.repeat(6).slice(0, 64)}`,
  };
}
const chain = (...migrations: Migration[]) =>
  new MigrationSet(
    'tenant',
    migrations.map((m, i) => ({ ...m, follows: i === 0 ? null : migrations[i - 1]!.revision })),
  );

async function seedRows(schema: string): Promise<unknown[]> {
  const result = await sql`
    SELECT r.name AS role, r.title, r.is_system, array_agg(p.name ORDER BY p.name) AS permissions
    FROM ${sql.id(schema, 'roles')} r
    JOIN ${sql.id(schema, 'role_permissions')} rp ON rp.role_id = r.id
    JOIN ${sql.id(schema, 'permissions')} p ON p.id = rp.permission_id
    GROUP BY r.name, r.title, r.is_system ORDER BY r.name`.execute(db);
  return result.rows;
}

async function schemaExists(schema: string): Promise<boolean> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ${schema}`.execute(db);
  return result.rows[0]!.n === 1;
}

describe('revision bodies', () => {
  it('every tenant revision is SQL text (one query each: tenant creation stays at 8 round trips)', () => {
    for (const set of [core.tenantRunner.set]) {
      for (const m of set.migrations) {
        expect(typeof m.up).toBe('string');
        expect(typeof m.down).toBe('string');
      }
    }
  });

  it('the SQL-text revisions give the same catalog and seed data as the statement-by-statement ones, up and down', async () => {
    expect(statementRunner.set.migrations.map((m) => m.revision)).toEqual(
      textRunner.set.migrations.map((m) => m.revision),
    );
    await textRunner.upgrade(target('body_text'));
    await statementRunner.upgrade(target('body_statements'));
    const reference = await catalogSnapshot(db, 'body_statements');
    expect(await catalogSnapshot(db, 'body_text')).toEqual(reference);
    expect(await seedRows('body_text')).toEqual(await seedRows('body_statements'));
    expect(await seedRows('body_text')).toHaveLength(3);

    for (let step = 1; step <= textRunner.set.migrations.length; step++) {
      await textRunner.downgrade(target('body_text'), { steps: 1, allowDataLoss: true });
      await statementRunner.downgrade(target('body_statements'), { steps: 1, allowDataLoss: true });
      expect(await catalogSnapshot(db, 'body_text')).toEqual(await catalogSnapshot(db, 'body_statements'));
    }
    await textRunner.upgrade(target('body_text'));
    expect(await catalogSnapshot(db, 'body_text')).toEqual(reference);
  });

  it('a dry run executes the text and leaves nothing', async () => {
    const result = await textRunner.upgrade(target('body_dry'), { dryRun: true });
    expect(result.steps).toHaveLength(textRunner.set.migrations.length);
    expect(await schemaExists('body_dry')).toBe(false);
  });

  it('a revision that catches an error with a savepoint runs exactly as written', async () => {
    const runner = new MigrationRunner(
      chain(
        revision('aaaaaaaaaaa1', async (conn) => {
          await sql`CREATE TABLE attempts (note text)`.execute(conn);
          await sql`SAVEPOINT optional_step`.execute(conn);
          try {
            await sql`CREATE INDEX attempts_idx ON attempts USING no_such_method (note)`.execute(conn);
            await sql`INSERT INTO attempts VALUES ('index made')`.execute(conn);
          } catch {
            await sql`ROLLBACK TO SAVEPOINT optional_step`.execute(conn);
            await sql`INSERT INTO attempts VALUES ('index skipped')`.execute(conn);
          }
          await sql`RELEASE SAVEPOINT optional_step`.execute(conn);
        }),
      ),
    );
    await runner.upgrade(target('body_savepoint'));
    const rows = await sql<{ note: string }>`SELECT note FROM body_savepoint.attempts`.execute(db);
    expect(rows.rows).toEqual([{ note: 'index skipped' }]);
  });

  it('a revision that reads a result gets the real result', async () => {
    const runner = new MigrationRunner(
      chain(
        revision('ccccccccccc1', async (conn) => {
          await sql`CREATE TABLE counted (n integer)`.execute(conn);
          const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_namespace`.execute(
            conn,
          );
          await sql`INSERT INTO counted VALUES (${rows[0]!.n})`.execute(conn);
        }),
      ),
    );
    await runner.upgrade(target('body_reads'));
    const result = await sql<{ n: number }>`SELECT n FROM body_reads.counted`.execute(db);
    expect(result.rows[0]!.n).toBeGreaterThan(1);
  });

  it('a failure in the middle of SQL text leaves the schema as before and names the revision', async () => {
    const runner = new MigrationRunner(
      chain(
        revision('aaaaaaaaaaa1', 'CREATE TABLE kept (x integer)'),
        revision(
          'aaaaaaaaaaa2',
          `CREATE TABLE first_half (x integer);
           INSERT INTO first_half VALUES (1);
           SELECT 1 / 0;
           CREATE TABLE never (x integer);`,
        ),
      ),
    );
    await runner.upgrade(target('body_fail'), { to: 'aaaaaaaaaaa1' });
    const before = await catalogSnapshot(db, 'body_fail');
    const error = await runner.upgrade(target('body_fail')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as MigrationFailedError).revision).toBe('aaaaaaaaaaa2');
    expect((error as Error).message).toMatch(/division by zero.*SQLSTATE 22012/);
    expect(await catalogSnapshot(db, 'body_fail')).toEqual(before);
  });

  it('a tenant creation failing in the middle of SQL text leaves no schema and no registry row', async () => {
    const runner = new MigrationRunner(
      chain(revision('bbbbbbbbbbb1', 'CREATE TABLE ok (x integer); CREATE TABLE ok (x integer);')),
    );
    const service = new TenantService(core.hosts, core.registry, runner);
    await expect(service.create({ name: 'Half made', tenantId: 'body_half' })).rejects.toThrow(
      /relation "ok" already exists/,
    );
    expect(await schemaExists('body_half')).toBe(false);
    expect(await core.registry.find('body_half')).toBeUndefined();
  });

  it('SQL text holding $1, comments and backslashes runs as written, with standard_conforming_strings on', async () => {
    // A pool whose sessions have standard_conforming_strings OFF: the runner sets it on for its transaction.
    const pool = new pg.Pool({
      connectionString: core.database.url,
      options: '-c standard_conforming_strings=off',
    });
    const legacy = new Kysely({ dialect: new PostgresDialect({ pool }) });
    onFileEnd(() => legacy.destroy());
    const runner = new MigrationRunner(
      chain(
        revision(
          'ddddddddddd1',
          `CREATE TABLE labels (label text); -- one row per label
           CREATE FUNCTION twice(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 * 2 $$;
           /* a comment; with a semicolon */
           INSERT INTO labels VALUES ('it''s'), ('a\\b'), ('$1'), ($q$body $1$q$);`,
        ),
      ),
    );
    await runner.upgrade({ host: DEFAULT_HOST, db: legacy, schema: 'body_text_literals' });
    const twice = await sql<{ n: number }>`SELECT body_text_literals.twice(21) AS n`.execute(db);
    expect(twice.rows[0]!.n).toBe(42);
    const labels = await sql<{ label: string }>`SELECT label FROM body_text_literals.labels`.execute(db);
    expect(labels.rows.map((r) => r.label).sort()).toEqual(["it's", 'a\\b', '$1', 'body $1'].sort());
  });
});

describe('the schema lock', () => {
  it('a role without superuser can take it (the key reads pg_control_system and pg_database)', async () => {
    await sql`CREATE ROLE body_plain_role LOGIN PASSWORD 'plain-role-password' NOSUPERUSER`.execute(db);
    await sql.raw(`GRANT CREATE ON DATABASE "${core.database.name}" TO body_plain_role`).execute(db);
    const url = new URL(core.database.url);
    url.username = 'body_plain_role';
    url.password = 'plain-role-password';
    const plain = new Kysely({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString() }) }),
    });
    try {
      const runner = new MigrationRunner(chain(revision('fffffffffff1', 'CREATE TABLE t (x integer)')));
      await runner.upgrade({ host: DEFAULT_HOST, db: plain, schema: 'body_plain' });
      expect(await schemaExists('body_plain')).toBe(true);
    } finally {
      await plain.destroy();
      await sql`DROP SCHEMA body_plain CASCADE`.execute(db);
      await sql.raw(`REVOKE CREATE ON DATABASE "${core.database.name}" FROM body_plain_role`).execute(db);
      await sql`DROP ROLE body_plain_role`.execute(db);
    }
  });

  it('two configured names for one database exclude each other', async () => {
    const runner = new MigrationRunner(chain(revision('eeeeeeeeeee1', 'CREATE TABLE t (x integer)')), {
      advisoryLockTimeoutMs: 500,
    });
    const schema = 'body_lock_alias';
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    // Another "host" name (an alias of the same database) holds the schema lock…
    const holder = runner.withSchemaLock({ host: 'alias-of-default', db, schema }, async () => {
      locked();
      await held;
    });
    await isLocked;
    try {
      // …so the runner under the default name waits for it (and times out here) instead of running beside it.
      await expect(runner.upgrade(target(schema))).rejects.toThrow(/lock timeout|canceling statement/);
    } finally {
      release();
      await holder;
    }
    await runner.upgrade(target(schema));
    expect(await schemaExists(schema)).toBe(true);
  });
});
