import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { revisionChecksum } from '../../src/migrations/checksum.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { loadMigrationSet, MigrationSetError, migrationFolder } from '../../src/migrations/migration-set.ts';
import {
  MigrationFailedError,
  MigrationRunner,
  RunnerInputError,
  type SchemaTarget,
  UnknownRevisionError,
} from '../../src/migrations/runner.ts';
import { eventually } from '../faults/support.ts';
import { testCore } from '../helpers/core.ts';

const fixtures = (name: string) => fileURLToPath(new URL(`../fixtures/migrations/${name}/`, import.meta.url));

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const target = (schema: string): SchemaTarget => ({ host: DEFAULT_HOST, db, schema });
const runner = core.tenantRunner;
const revisions = runner.set.migrations.map((m) => m.revision);

async function versionRows(schema: string): Promise<string[]> {
  const result = await sql<{
    revision: string;
  }>`SELECT revision FROM ${sql.id(schema)}.schema_migrations ORDER BY name`.execute(db);
  return result.rows.map((r) => r.revision);
}

async function schemaExists(schema: string): Promise<boolean> {
  const result = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ${schema}`.execute(db);
  return result.rows[0]!.n === 1;
}

describe('migration set', () => {
  it('loads the real sets as chains ordered by file name', async () => {
    expect(runner.set.migrations.length).toBeGreaterThanOrEqual(2);
    runner.set.migrations.forEach((m, i) => {
      expect(m.follows).toBe(i === 0 ? null : runner.set.migrations[i - 1]!.revision);
      expect(m.checksum).toMatch(/^v2:[0-9a-f]{64}$/);
      expect(m.description.length).toBeGreaterThan(0);
    });
    expect(core.publicRunner.set.head).not.toBeNull();
  });

  it('refuses a broken chain, naming the file', async () => {
    await expect(loadMigrationSet('tenant', fixtures('broken'))).rejects.toThrow(
      /2026_01_01_0001-aaaaaaaaaaa2_positive_things\.ts follows deadbeef0000, which no file has/,
    );
  });

  it('refuses a forked chain, naming both files', async () => {
    await expect(loadMigrationSet('tenant', fixtures('forked'))).rejects.toThrow(
      /fork: .*aaaaaaaaaaa2_positive_things\.ts and .*aaaaaaaaaaa3_other_branch\.ts both follow aaaaaaaaaaa1/,
    );
  });

  it('refuses a badly named file', async () => {
    await expect(loadMigrationSet('tenant', fixtures('badname'))).rejects.toThrow(MigrationSetError);
  });

  it('resolves head, base and unique prefixes; rejects bad revisions', () => {
    expect(runner.set.resolve('head')).toBe(revisions.at(-1));
    expect(runner.set.resolve('base')).toBeNull();
    expect(runner.set.resolve(revisions[0]!.slice(0, 6))).toBe(revisions[0]);
    expect(() => runner.set.resolve('zzzz')).toThrow(/not a revision/);
    expect(() => runner.set.resolve('abc')).toThrow(/not a revision/);
    expect(() => runner.set.resolve('ffffffffffff')).toThrow(/no tenant revision matches/);
    expect(() => runner.set.resolve("1'; drop")).toThrow(MigrationSetError);
  });
});

describe('upgrade and downgrade', () => {
  it('round trip: upgrade, downgrade -1, downgrade base, re-upgrade — catalog and version rows right at each step', async () => {
    const schema = 'rt_tenant';
    const up = await runner.upgrade(target(schema));
    expect(up.steps.map((s) => s.revision)).toEqual(revisions);
    expect(up.from).toBeNull();
    expect(up.to).toBe(revisions.at(-1));
    expect(await versionRows(schema)).toEqual(revisions);
    const atHead = await catalogSnapshot(db, schema);
    expect(atHead).toContain('table sessions (r)');
    // The reference for "one revision back": another schema migrated straight to that revision.
    await runner.upgrade(target('rt_reference'), { to: revisions.at(-2)! });
    const expectedOneBack = await catalogSnapshot(db, 'rt_reference');

    const back = await runner.downgrade(target(schema), { steps: 1 });
    expect(back.steps.map((s) => s.revision)).toEqual([revisions.at(-1)]);
    expect(await versionRows(schema)).toEqual(revisions.slice(0, -1));
    const oneBack = await catalogSnapshot(db, schema);
    expect(oneBack).toEqual(expectedOneBack);
    expect(oneBack).not.toEqual(atHead);
    expect(oneBack).toContain('table users (r)');

    await runner.downgrade(target(schema), { to: 'base', allowDataLoss: true });
    expect(await versionRows(schema)).toEqual([]);
    expect(await catalogSnapshot(db, schema)).toEqual(
      (await catalogSnapshot(db, schema)).filter((line) => line.includes('schema_migrations')),
    );

    const again = await runner.upgrade(target(schema));
    expect(again.steps).toHaveLength(revisions.length);
    expect(await catalogSnapshot(db, schema)).toEqual(atHead);
    expect((await runner.status(target(schema))).behind).toBe(0);
  });

  it('every revision round-trips on its own: up → down → up leaves the same catalog', async () => {
    const schema = 'each_rev';
    for (const revision of revisions) {
      await runner.upgrade(target(schema), { to: revision });
      const after = await catalogSnapshot(db, schema);
      await runner.downgrade(target(schema), { steps: 1, allowDataLoss: true });
      await runner.upgrade(target(schema), { to: revision });
      expect(await catalogSnapshot(db, schema)).toEqual(after);
    }
  });

  it('upgrades to a revision prefix and downgrades to a revision', async () => {
    const schema = 'prefix_tenant';
    const result = await runner.upgrade(target(schema), { to: revisions[0]!.slice(0, 5) });
    expect(result.steps.map((s) => s.revision)).toEqual([revisions[0]]);
    await runner.upgrade(target(schema));
    const down = await runner.downgrade(target(schema), { to: revisions[0]!, allowDataLoss: true });
    expect(down.to).toBe(revisions[0]);
    expect(await versionRows(schema)).toEqual([revisions[0]]);
  });

  it('refuses impossible moves without changing anything', async () => {
    const schema = 'bad_moves';
    await runner.upgrade(target(schema));
    await expect(runner.upgrade(target(schema), { to: revisions[0]! })).rejects.toThrow(RunnerInputError);
    await expect(runner.downgrade(target(schema), { steps: revisions.length + 1 })).rejects.toThrow(
      `only ${revisions.length} revision(s) applied`,
    );
    await expect(runner.downgrade(target(schema), { steps: 0 })).rejects.toThrow(RunnerInputError);
    await expect(runner.downgrade(target(schema), {})).rejects.toThrow(RunnerInputError);
    expect(await versionRows(schema)).toEqual(revisions);
  });

  it('records name, duration and checksum of each applied revision', async () => {
    const schema = 'version_rows';
    await runner.upgrade(target(schema));
    const rows = await sql<{ revision: string; name: string; duration_ms: number; checksum: string }>`
      SELECT revision, name, duration_ms, checksum FROM version_rows.schema_migrations ORDER BY name`.execute(
      db,
    );
    expect(rows.rows).toEqual(
      runner.set.migrations.map((m) => ({
        revision: m.revision,
        name: m.name,
        duration_ms: expect.any(Number),
        checksum: m.checksum,
      })),
    );
  });
});

describe('dry run', () => {
  it('on a fresh schema reports every revision and leaves nothing, not even the schema', async () => {
    const result = await runner.upgrade(target('dry_fresh'), { dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.steps.map((s) => s.revision)).toEqual(revisions);
    expect(await schemaExists('dry_fresh')).toBe(false);
  });

  it('on a half-migrated schema reports the rest and leaves the catalog exactly as before', async () => {
    const schema = 'dry_half';
    await runner.upgrade(target(schema), { to: revisions[0]! });
    await sql`INSERT INTO dry_half.users (email, role_id) SELECT 'a@example.com', id FROM dry_half.roles WHERE name = 'OWNER'`.execute(
      db,
    );
    const before = await catalogSnapshot(db, schema);
    const result = await runner.upgrade(target(schema), { dryRun: true });
    expect(result.steps.map((s) => s.revision)).toEqual(revisions.slice(1));
    expect(await catalogSnapshot(db, schema)).toEqual(before);
    expect(await versionRows(schema)).toEqual([revisions[0]]);
  });

  it('a failing revision in a dry run reports the real PostgreSQL error', async () => {
    const failing = new MigrationRunner(await loadMigrationSet('tenant', fixtures('failing')));
    await failing.upgrade(target('dry_fail'), { to: 'aaaaaaaaaaa1' });
    await sql`INSERT INTO dry_fail.things VALUES (-1)`.execute(db);
    const error = await failing.upgrade(target('dry_fail'), { dryRun: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as Error).message).toMatch(/check constraint "things_positive" .* is violated by some row/);
    expect((error as Error).message).toContain('SQLSTATE 23514');
    expect((error as Error).message).not.toMatch(/current transaction is aborted/);
  });
});

describe('failures', () => {
  it('a failing revision leaves the schema exactly as before', async () => {
    const failing = new MigrationRunner(await loadMigrationSet('tenant', fixtures('failing')));
    const schema = 'real_fail';
    await failing.upgrade(target(schema), { to: 'aaaaaaaaaaa1' });
    await sql`INSERT INTO real_fail.things VALUES (0)`.execute(db);
    const before = await catalogSnapshot(db, schema);
    await expect(failing.upgrade(target(schema))).rejects.toThrow(/things_positive/);
    expect(await catalogSnapshot(db, schema)).toEqual(before);
    expect(await versionRows(schema)).toEqual(['aaaaaaaaaaa1']);
  });

  it('a schema recording a revision unknown to the code is reported and never touched', async () => {
    const schema = 'ahead_of_code';
    await runner.upgrade(target(schema));
    await sql`INSERT INTO ahead_of_code.schema_migrations (revision, name) VALUES ('ffffffffffff', 'from the future')`.execute(
      db,
    );
    const before = await catalogSnapshot(db, schema);
    await expect(runner.upgrade(target(schema))).rejects.toThrow(UnknownRevisionError);
    await expect(runner.downgrade(target(schema), { steps: 1 })).rejects.toThrow(/unknown to this code/);
    const status = await runner.status(target(schema));
    expect(status.unknown).toEqual(['ffffffffffff']);
    expect(await catalogSnapshot(db, schema)).toEqual(before);
  });

  it('a changed checksum of an applied revision is reported as drift', async () => {
    const schema = 'checksum_drift';
    await runner.upgrade(target(schema));
    await sql`UPDATE checksum_drift.schema_migrations SET checksum = 'v2:edited' WHERE revision = ${revisions[0]!}`.execute(
      db,
    );
    expect((await runner.status(target(schema))).drifted).toEqual([revisions[0]]);
  });

  it('a checksum recorded by an older runner (bare SHA-256) is not compared', async () => {
    const schema = 'checksum_legacy';
    await runner.upgrade(target(schema));
    await sql`UPDATE checksum_legacy.schema_migrations SET checksum = ${'0'.repeat(64)}`.execute(db);
    expect((await runner.status(target(schema))).drifted).toEqual([]);
  });
});

describe('checksums ignore formatting and comments', () => {
  const sqlUp = `CREATE TABLE t (
  a integer NOT NULL, -- the key
  b text DEFAULT 'x  y' /* two spaces stay inside the literal */
);`;
  const reformatted = `-- a new comment
CREATE   TABLE t(a integer NOT NULL,
    b text DEFAULT 'x  y');`;
  it('SQL text: whitespace, line breaks and comments do not change it; a literal or a name does', () => {
    const base = revisionChecksum(sqlUp, 'DROP TABLE t', '');
    expect(revisionChecksum(reformatted, 'DROP TABLE t;', '')).toBe(base);
    expect(revisionChecksum(sqlUp.replace("'x  y'", "'x y'"), 'DROP TABLE t', '')).not.toBe(base);
    expect(revisionChecksum(sqlUp.replace('integer', 'bigint'), 'DROP TABLE t', '')).not.toBe(base);
    // Whatever surrounds the SQL in the module (comments, formatting of the TypeScript) is not hashed.
    expect(revisionChecksum(sqlUp, 'DROP TABLE t', '/* any */ source')).toBe(base);
  });

  it('a revision with logic: the formatter and comments do not change it; the code does', () => {
    const source = `export const up: MigrationFunction = async (db) => {
  await sql\`CREATE TABLE t (a int)\`.execute(db);
};`;
    const formatted = `// why this revision exists
export const up: MigrationFunction = async (db) => {
  await sql\`CREATE TABLE t (a int)\`.execute(
    db,
  );
};
`;
    const fn = async () => {};
    const base = revisionChecksum(fn, fn, source);
    expect(revisionChecksum(fn, fn, formatted)).toBe(base);
    expect(revisionChecksum(fn, fn, source.replace('a int', 'a bigint'))).not.toBe(base);
  });

  it('a real revision file keeps its checksum when the formatter reflows it and comments change', async () => {
    const [first] = runner.set.migrations;
    const source = await readFile(path.join(migrationFolder('tenant'), `${first!.name}.ts`), 'utf8');
    const edited = `// reviewed again\n${source.replaceAll('\n', '\n\n')}`;
    const copy = await mkdtemp(path.join(tmpdir(), 'tenantry-checksum-'));
    try {
      await writeFile(path.join(copy, `${first!.name}.ts`), edited);
      const reloaded = await loadMigrationSet('tenant', copy);
      expect(reloaded.migrations[0]!.checksum).toBe(first!.checksum);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('stamp, status and history', () => {
  it('stamp records a version without running anything; base clears it', async () => {
    const schema = 'stamped';
    await runner.stamp(target(schema), 'head');
    expect(await versionRows(schema)).toEqual(revisions);
    const catalog = await catalogSnapshot(db, schema);
    expect(catalog.some((line) => line.startsWith('table users'))).toBe(false);
    await runner.stamp(target(schema), 'base');
    expect(await versionRows(schema)).toEqual([]);
  });

  it('status and history describe the schema', async () => {
    const schema = 'described';
    expect(await runner.status(target(schema))).toMatchObject({
      exists: false,
      current: null,
      behind: revisions.length,
    });
    await runner.upgrade(target(schema), { to: revisions[0]! });
    expect(await runner.status(target(schema))).toMatchObject({
      exists: true,
      current: revisions[0],
      behind: revisions.length - 1,
      pending: revisions.slice(1),
    });
    const history = await runner.history(target(schema));
    expect(history.map((h) => [h.revision, h.applied !== null])).toEqual(
      revisions.map((r, i) => [r, i === 0]),
    );
  });
});

describe('concurrency', () => {
  it('many simultaneous upgrades of one schema: all succeed, one set of version rows', async () => {
    const schema = 'crowded';
    const results = await Promise.all(Array.from({ length: 5 }, () => runner.upgrade(target(schema))));
    expect(results.map((r) => r.steps.length).sort()).toEqual([0, 0, 0, 0, revisions.length]);
    expect(await versionRows(schema)).toEqual(revisions);
  });

  it('runners on different schemas do not wait for each other', async () => {
    const slow = new MigrationRunner(await loadMigrationSet('tenant', fixtures('slow')));
    const order: string[] = [];
    const slowRun = slow.upgrade(target('slow_one')).then(() => order.push('slow'));
    // Wait until the slow runner holds its schema lock and sleeps inside its migration.
    await eventually('the slow runner sleeps inside its migration', async () => {
      const sleeping = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event = 'PgSleep'`.execute(db);
      return sleeping.rows[0]!.n === 1;
    });
    await slow.upgrade(target('fast_one')).then(() => order.push('fast'));
    await slowRun;
    expect(order).toEqual(['fast', 'slow']);
  });
});
