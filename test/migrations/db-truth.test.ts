/**
 * `tenantry db` tells the truth (issue 13): check/current cover the public schema and every tenant,
 * report checksum drift and revisions the code does not know, refuse unknown ids in --tenants, write
 * revision files that pass lint whatever the message; drift compares catalogs structurally; a downgrade
 * that drops data needs --confirm and leaves the tenant pinned.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { detectDrift } from '../../src/migrations/drift.ts';
import { loadMigrationSet } from '../../src/migrations/migration-set.ts';
import { runCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const core = await testCore();
const env = { DATABASE_URL: core.database.url };
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;

/** A tenant left one revision behind head (unpinned, as after an older deploy). */
async function tenantBehind(tenantId: string): Promise<void> {
  await core.tenants.create({ name: tenantId, tenantId });
  await core.tenantRunner.downgrade({ host: DEFAULT_HOST, db, schema: tenantId }, { steps: 1 });
  await core.registry.recordMigration(tenantId, { revision: revisions.at(-2)!, status: 'ok', error: null });
}

describe('db check and db current', () => {
  it('without --tenant they cover the public schema and every tenant; --public narrows', async () => {
    await tenantBehind('truth_behind');
    const check = await runCli(['db', 'check'], env);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('truth_behind');
    expect(check.stdout).toMatch(/1 of \d+ schema\(s\) need attention/);

    const onlyPublic = await runCli(['db', 'check', '--public'], env);
    expect(onlyPublic.code).toBe(0);
    expect(onlyPublic.stdout).toContain('ok: 1 schema(s) at head');

    // Drift of an applied revision and a revision the code does not know, on the fleet path.
    await core.tenants.create({ name: 'Edited', tenantId: 'truth_edited' });
    await sql`UPDATE truth_edited.schema_migrations SET checksum = 'v2:edited' WHERE revision = ${revisions[0]!}`.execute(
      db,
    );
    await core.tenants.create({ name: 'Ahead', tenantId: 'truth_ahead' });
    await sql`INSERT INTO truth_ahead.schema_migrations (revision, name, applied_at)
              VALUES ('fedcba987654', '2099_01_01_0000-fedcba987654_from_the_future', now() + interval '1 day')`.execute(
      db,
    );
    const current = await runCli(['db', 'current', '--all', '--json'], env);
    expect(current.code).toBe(3);
    const lines = JSON.parse(current.stdout) as Array<Record<string, unknown>>;
    const bySchema = new Map(lines.map((l) => [l.schema, l]));
    expect(bySchema.get('public')).toMatchObject({ behind: 0 });
    expect(bySchema.get('truth_behind')).toMatchObject({ current: revisions.at(-2), behind: 1 });
    expect(bySchema.get('truth_edited')).toMatchObject({ current: head, behind: 0, drifted: [revisions[0]] });
    expect(bySchema.get('truth_ahead')).toMatchObject({
      current: 'fedcba987654',
      behind: null,
      unknown: ['fedcba987654'],
    });

    const text = await runCli(['db', 'current', '--tenant', 'truth_ahead'], env);
    expect(text.stdout).toMatch(/truth_ahead .*fedcba987654 .*ahead .*database newer than the code/);
  });

  it('an unknown id in --tenants is exit 2 naming it, for every command that takes the option', async () => {
    await core.tenants.create({ name: 'Known', tenantId: 'truth_known' });
    for (const args of [
      ['db', 'upgrade', 'head', '--all', '--tenants', 'truth_known,truth_nobody'],
      ['db', 'downgrade', '-1', '--all', '--tenants', 'truth_nobody'],
      ['db', 'drift', '--tenants', 'truth_nobody,truth_known'],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/--tenants: no tenant "truth_nobody"/);
    }
  });
});

describe('db downgrade', () => {
  it('refuses to drop rows without --confirm, says what it would drop, then pins the tenant', async () => {
    await core.tenants.create({ name: 'Rows', tenantId: 'truth_rows' });
    await sql`INSERT INTO truth_rows.tags (name) VALUES ('a'), ('b')`.execute(db);
    // Back to before the revision that made tags (later revisions drop their own tables too, and the
    // change feed's seeded counter row counts as data like any seeded row).
    const before = '644e2e7c091a';
    const refused = await runCli(['db', 'downgrade', before, '--tenant', 'truth_rows'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/would drop .*table tags \(2 rows\)/);
    expect(refused.stderr).toMatch(/nothing was changed; to go ahead: --confirm truth_rows/);

    const done = await runCli(
      ['db', 'downgrade', before, '--tenant', 'truth_rows', '--confirm', 'truth_rows'],
      env,
    );
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/dropped .*table tags \(2 rows\)/);
    expect(done.stdout).toMatch(/pinned at/);

    const current = await runCli(['db', 'current', '--tenant', 'truth_rows', '--json'], env);
    expect(JSON.parse(current.stdout)[0]).toMatchObject({
      pinned: true,
      behind: revisions.length - 1 - revisions.indexOf(before),
    });
    const list = await runCli(['tenants', 'list', '--json'], env);
    expect(
      JSON.parse(list.stdout).find((t: { tenant_id: string }) => t.tenant_id === 'truth_rows'),
    ).toMatchObject({
      pinned: true,
    });
  });
});

describe('db drift', () => {
  it('compares catalogs structurally: tenants named s or tasks show no false differences', async () => {
    await core.tenants.create({ name: 'S', tenantId: 's' });
    await core.tenants.create({ name: 'Tasks', tenantId: 'tasks' });
    const report = await detectDrift(core.hosts, core.registry, core.tenantRunner, {
      tenants: ['s', 'tasks'],
    });
    expect(report.tenants.map((t) => [t.tenant_id, t.missing, t.unexpected])).toEqual([
      ['s', [], []],
      ['tasks', [], []],
    ]);
    // A real difference is still found.
    await sql`ALTER TABLE tasks.tasks ADD COLUMN extra integer`.execute(db);
    const after = await detectDrift(core.hosts, core.registry, core.tenantRunner, { tenants: ['tasks'] });
    expect(after.tenants[0]!.unexpected).toEqual(['column tasks.extra integer']);
  });
});

describe('db revision -m', () => {
  it(
    'writes a file that passes lint as generated and loads, whatever the message holds',
    { timeout: 120_000 },
    async () => {
      const folder = await mkdtemp(path.join(ROOT, 'src', 'migrations', 'tmp-revision-'));
      try {
        const message = `Fix */ comments, 'single' and "double" quotes, \`backticks\` and \${interpolation}\nover two lines \\ with a backslash ${'and a long tail '.repeat(6)}`;
        const result = await runCli(['db', 'revision', '-m', message, '--dir', folder], env);
        expect(result.code).toBe(0);
        const [file] = await readdir(folder);
        const lint = await promisify(execFile)('npx', ['biome', 'check', path.join(folder, file!)], {
          cwd: ROOT,
        }).then(
          () => 'ok',
          (error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`,
        );
        expect(lint).toBe('ok');
        const set = await loadMigrationSet('tenant', folder);
        expect(set.migrations[0]!.description).toBe(message.trim().replace(/\s+/g, ' '));
        expect(await readFile(path.join(folder, file!), 'utf8')).toContain('export const up = `');
      } finally {
        await rm(folder, { recursive: true, force: true });
      }
    },
  );
});
