/**
 * Revisions sent as one script per revision (src/migrations/revision-script.ts) against the real runner and
 * PostgreSQL: the same catalog and seed data as running them statement by statement, nothing left by a
 * failure in the middle of a script, and revisions that cannot be recorded still run (statement by
 * statement).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { type Migration, type MigrationFunction, MigrationSet } from '../../src/migrations/migration-set.ts';
import { recordScript } from '../../src/migrations/revision-script.ts';
import { MigrationFailedError, MigrationRunner, type SchemaTarget } from '../../src/migrations/runner.ts';
import { TenantService } from '../../src/tenancy/tenant-service.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const target = (schema: string): SchemaTarget => ({ host: DEFAULT_HOST, db, schema });
const batched = core.tenantRunner;
const oneByOne = new MigrationRunner(batched.set, { batchRevisions: false });

/** A tenant-set revision defined in the test (no file). */
function revision(
  revision: string,
  up: MigrationFunction,
  down: MigrationFunction = async () => {},
): Migration {
  return {
    revision,
    name: `2026_01_01_0000-${revision}_test`,
    file: `${revision}.ts`,
    description: 'test revision',
    follows: null,
    up,
    down,
    checksum: revision.repeat(5).slice(0, 64),
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

describe('one script per revision', () => {
  it('records every real tenant revision, both ways', async () => {
    for (const migration of batched.set.migrations) {
      expect(await recordScript(migration.up, { schema: 'x' })).toMatch(/CREATE TABLE/);
      expect(await recordScript(migration.down, { schema: 'x' })).toMatch(/DROP TABLE/);
    }
  });

  it('gives the same catalog and seed data as running the statements one by one, up and down', async () => {
    await batched.upgrade(target('script_batched'));
    await oneByOne.upgrade(target('script_single'));
    const reference = await catalogSnapshot(db, 'script_single');
    expect(await catalogSnapshot(db, 'script_batched')).toEqual(reference);
    expect(await seedRows('script_batched')).toEqual(await seedRows('script_single'));
    expect(await seedRows('script_batched')).toHaveLength(3);

    // Downgrade one step each way, then back to head batched: still identical.
    const revisions = batched.set.migrations.map((m) => m.revision);
    await batched.downgrade(target('script_batched'), { steps: 1 });
    await oneByOne.downgrade(target('script_single'), { steps: 1 });
    expect(await catalogSnapshot(db, 'script_batched')).toEqual(await catalogSnapshot(db, 'script_single'));
    await batched.downgrade(target('script_batched'), { to: 'base' });
    const up = await batched.upgrade(target('script_batched'));
    expect(up.steps.map((s) => s.revision)).toEqual(revisions);
    expect(await catalogSnapshot(db, 'script_batched')).toEqual(reference);
  });

  it('a dry run executes the scripts and leaves nothing', async () => {
    const result = await batched.upgrade(target('script_dry'), { dryRun: true });
    expect(result.steps).toHaveLength(batched.set.migrations.length);
    expect(await schemaExists('script_dry')).toBe(false);
  });

  it('a failure in the middle of a script leaves the schema as before and names the revision', async () => {
    const runner = new MigrationRunner(
      chain(
        revision('aaaaaaaaaaa1', async (conn) => {
          await sql`CREATE TABLE kept (x integer)`.execute(conn);
        }),
        revision('aaaaaaaaaaa2', async (conn) => {
          await sql`CREATE TABLE first_half (x integer)`.execute(conn);
          await sql`INSERT INTO first_half VALUES (${1})`.execute(conn);
          await sql`SELECT 1 / ${0}::int`.execute(conn);
          await sql`CREATE TABLE never (x integer)`.execute(conn);
        }),
      ),
    );
    await runner.upgrade(target('script_fail'), { to: 'aaaaaaaaaaa1' });
    const before = await catalogSnapshot(db, 'script_fail');
    const error = await runner.upgrade(target('script_fail')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as MigrationFailedError).revision).toBe('aaaaaaaaaaa2');
    expect((error as Error).message).toMatch(/division by zero.*SQLSTATE 22012/);
    expect(await catalogSnapshot(db, 'script_fail')).toEqual(before);
  });

  it('a tenant creation failing in the middle of a script leaves no schema and no registry row', async () => {
    const runner = new MigrationRunner(
      chain(
        revision('bbbbbbbbbbb1', async (conn) => {
          await sql`CREATE TABLE ok (x integer)`.execute(conn);
          await sql`CREATE TABLE ok (x integer)`.execute(conn);
        }),
      ),
    );
    const service = new TenantService(core.hosts, core.registry, runner);
    await expect(service.create({ name: 'Half made', tenantId: 'script_half' })).rejects.toThrow(
      /relation "ok" already exists/,
    );
    expect(await schemaExists('script_half')).toBe(false);
    expect(await core.registry.find('script_half')).toBeUndefined();
  });

  it('a revision that reads a result is not recorded and runs statement by statement', async () => {
    const readsRows: MigrationFunction = async (conn) => {
      await sql`CREATE TABLE counted (n integer)`.execute(conn);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_namespace`.execute(conn);
      await sql`INSERT INTO counted VALUES (${rows[0]!.n})`.execute(conn);
    };
    expect(await recordScript(readsRows, { schema: 'x' })).toBeNull();
    const runner = new MigrationRunner(chain(revision('ccccccccccc1', readsRows)));
    await runner.upgrade(target('script_reads'));
    const result = await sql<{ n: number }>`SELECT n FROM script_reads.counted`.execute(db);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]!.n).toBeGreaterThan(1);
  });

  it('refuses to record streams, nested transactions, uninlinable parameters and throwing revisions', async () => {
    const refused: MigrationFunction[] = [
      async (conn) => {
        for await (const row of conn.selectNoFrom(sql`1`.as('x')).stream()) void row;
      },
      async (conn) => conn.transaction().execute(async () => {}),
      async (conn) => {
        await sql`SELECT ${new Date()}::timestamptz`.execute(conn);
      },
      async () => {
        throw new Error('nope');
      },
    ];
    for (const fn of refused) expect(await recordScript(fn, { schema: 'x' })).toBeNull();
    expect(await recordScript(async () => {}, { schema: 'x' })).toBe('');
  });

  it('a $n inside a function body is left for the function, while parameters beside it are inlined', async () => {
    const runner = new MigrationRunner(
      chain(
        revision('ddddddddddd1', async (conn) => {
          // A statement ending in a comment: the script's `;` must not fall into it.
          await sql`CREATE TABLE labels (label text) -- one row per label`.execute(conn);
          await sql`CREATE FUNCTION twice(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 * 2 $$`.execute(
            conn,
          );
          // Parameters and a dollar-quoted `$1` in one statement: only the parameter is inlined.
          await sql`INSERT INTO labels SELECT unnest(${["it's", 'a\\b', '$1']}::text[])
                    UNION ALL SELECT $q$body $1$q$`.execute(conn);
        }),
      ),
    );
    await runner.upgrade(target('script_body'));
    const twice = await sql<{ n: number }>`SELECT script_body.twice(21) AS n`.execute(db);
    expect(twice.rows[0]!.n).toBe(42);
    const labels = await sql<{ label: string }>`SELECT label FROM script_body.labels ORDER BY label`.execute(
      db,
    );
    expect(labels.rows.map((r) => r.label).sort()).toEqual(["it's", 'a\\b', '$1', 'body $1'].sort());
  });
});
