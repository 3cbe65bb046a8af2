import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { upgradeFleet } from '../../src/migrations/fleet.ts';
import { loadMigrationSet } from '../../src/migrations/migration-set.ts';
import { MigrationRunner } from '../../src/migrations/runner.ts';
import { TenantRegistry } from '../../src/tenancy/registry.ts';
import { eventually } from '../faults/support.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { collect, runCli, spawnCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';
import { createTestDatabase } from '../helpers/database.ts';

const second = await createTestDatabase({ host: 2 });
const hostsEnv = JSON.stringify({ eu2: second.url });
const core = await testCore({ env: { TENANT_DATABASE_URLS: hostsEnv } });
const env = { DATABASE_URL: core.database.url, TENANT_DATABASE_URLS: hostsEnv };
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;

const targetOf = (tenantId: string, host = DEFAULT_HOST) => ({
  host,
  db: core.hosts.db(host),
  schema: tenantId,
});

/** A tenant left at an older revision (default: one behind head). */
async function tenantBehind(tenantId: string, host = DEFAULT_HOST, at = revisions.at(-2)!) {
  await core.tenants.create({ name: tenantId, tenantId, host });
  await core.tenantRunner.downgrade(targetOf(tenantId, host), { to: at, allowDataLoss: true });
  await core.registry.recordMigration(tenantId, { revision: at, status: 'ok', error: null });
}

// The CLI runs in this process (runCli: the command line's real entry, runTenantry); the SIGKILL test
// spawns it. The production build's bin is spawned in test/built/production-build.test.ts.
describe('tenantry db (CLI in-process; SIGKILL spawns it)', () => {
  it('upgrade head --tenant a --dry-run reports and changes nothing; without --dry-run it applies', async () => {
    await tenantBehind('cli_one');
    const before = await catalogSnapshot(db, 'cli_one');
    const dry = await runCli(['db', 'upgrade', 'head', '--tenant', 'cli_one', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('[dry run] cli_one: would upgrade');
    expect(dry.stdout).toContain('rolled back, nothing changed');
    expect(await catalogSnapshot(db, 'cli_one')).toEqual(before);

    const real = await runCli(['db', 'upgrade', 'head', '--tenant', 'cli_one', '--json'], env);
    expect(real.code).toBe(0);
    const result = JSON.parse(real.stdout);
    expect(result).toMatchObject({ schema: 'cli_one', to: head, dryRun: false });
    expect(result.steps.map((s: { revision: string }) => s.revision)).toEqual([head]);
    expect(await core.registry.find('cli_one')).toMatchObject({ revision: head, migration_status: 'ok' });
  });

  it('downgrade -1 and the public schema commands mirror Alembic', async () => {
    await core.tenants.create({ name: 'cli_two', tenantId: 'cli_two' });
    const down = await runCli(['db', 'downgrade', '-1', '--tenant', 'cli_two'], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`cli_two: ${head} → ${revisions.at(-2)}`);
    expect(await core.registry.find('cli_two')).toMatchObject({ revision: revisions.at(-2) });

    const publicHead = core.publicRunner.set.head!;
    const pub = await runCli(['db', 'upgrade', publicHead, '--tenant', 'public'], env);
    expect(pub.code).toBe(0);
    expect(pub.stdout).toContain('public: nothing to upgrade');
  });

  it('upgrade head --all: public first, then every tenant on every host; check passes afterwards', async () => {
    await tenantBehind('all_a');
    await tenantBehind('all_b', 'eu2');
    const behind = await runCli(['db', 'check', '--all'], env);
    expect(behind.code).toBe(1);
    expect(behind.stdout).toMatch(/all_a\s+default/);
    expect(behind.stdout).toMatch(/all_b\s+eu2/);

    const run = await runCli(['db', 'upgrade', 'head', '--all', '--json'], env);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.failed).toBe(0);
    const outcome = (id: string) =>
      report.results.find((r: { tenant_id: string }) => r.tenant_id === id)?.outcome;
    expect(outcome('all_a')).toBe('upgraded');
    expect(outcome('all_b')).toBe('upgraded');
    expect((await core.tenantRunner.status(targetOf('all_b', 'eu2'))).behind).toBe(0);

    const check = await runCli(['db', 'check', '--all'], env);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/ok: \d+ schema\(s\) at head/);
  });

  it('a failing tenant in a fleet run: others reach head, failure recorded, exit code 1', async () => {
    await tenantBehind('fleet_ok', DEFAULT_HOST, revisions[0]);
    await tenantBehind('fleet_bad', DEFAULT_HOST, revisions[0]);
    // The second revision creates user_tokens; a table already there makes it fail on this tenant only.
    await sql`CREATE TABLE fleet_bad.user_tokens (id int)`.execute(db);
    const before = await catalogSnapshot(db, 'fleet_bad');

    const run = await runCli(['db', 'upgrade', 'head', '--all', '--tenants', 'fleet_ok,fleet_bad'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/fleet_bad\s+default\s+failed/);
    expect(run.stdout).toContain('relation "user_tokens" already exists');
    expect(run.stdout).toMatch(/failed: 1/);
    expect(await core.registry.find('fleet_ok')).toMatchObject({ revision: head, migration_status: 'ok' });
    expect(await core.registry.find('fleet_bad')).toMatchObject({ migration_status: 'failed' });
    expect((await core.registry.find('fleet_bad'))?.migration_error).toContain('already exists');
    expect(await catalogSnapshot(db, 'fleet_bad')).toEqual(before);

    // --only-failed retries just that tenant once it is fixed.
    await sql`DROP TABLE fleet_bad.user_tokens`.execute(db);
    const retry = await runCli(['db', 'upgrade', 'head', '--all', '--only-failed', '--json'], env);
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout).results.map((r: { tenant_id: string }) => r.tenant_id)).toEqual([
      'fleet_bad',
    ]);
  });

  it('a runner killed with SIGKILL mid-revision leaves the previous revision; the next run completes', async () => {
    await tenantBehind('killed', DEFAULT_HOST, revisions[0]);
    const atFirst = await catalogSnapshot(db, 'killed');
    // Hold a lock the second revision needs (sessions references users), so the CLI stops inside it.
    const blocker = new pg.Client({ connectionString: core.database.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE killed.users IN ACCESS EXCLUSIVE MODE');
      const child = spawnCli(['db', 'upgrade', 'head', '--tenant', 'killed'], env);
      const done = collect(child);
      // Read through the pool, not the blocker: inside its transaction pg_stat_activity is a snapshot
      // frozen at its first read. The CLI's backend must be waiting for exactly that table's lock.
      await eventually('the CLI waits inside its migration for the lock on killed.users', async () => {
        const waiting = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE a.datname = current_database() AND a.application_name = 'tenantry'
             AND a.wait_event_type = 'Lock' AND NOT l.granted
             AND l.relation = 'killed.users'::regclass`.execute(db);
        return waiting.rows[0]!.n > 0;
      });
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    // The killed CLI's backend rolls back once it notices its client is gone.
    await eventually('the killed runner’s session is gone', async () => {
      const left = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'tenantry' AND state <> 'idle'
           AND pid <> pg_backend_pid()`.execute(db);
      return left.rows[0]!.n === 0;
    });

    expect((await core.tenantRunner.status(targetOf('killed'))).current).toBe(revisions[0]);
    expect(await catalogSnapshot(db, 'killed')).toEqual(atFirst);
    const again = await runCli(['db', 'upgrade', 'head', '--tenant', 'killed'], env);
    expect(again.code).toBe(0);
    expect((await core.tenantRunner.status(targetOf('killed'))).current).toBe(head);
  });

  it('a schema ahead of the code: reported with exit code 3, untouched', async () => {
    await core.tenants.create({ name: 'future', tenantId: 'future' });
    await sql`INSERT INTO future.schema_migrations (revision, name) VALUES ('ffffffffffff', 'newer code')`.execute(
      db,
    );
    const run = await runCli(['db', 'upgrade', 'head', '--tenant', 'future'], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('unknown to this code');
    const current = await runCli(['db', 'current', '--tenant', 'future'], env);
    expect(current.code).toBe(3);
  });

  it.each([
    [['db', 'upgrade', 'head', '--tenant', 'nobody_here'], /tenant "nobody_here" does not exist/],
    [['db', 'upgrade', 'nothex', '--tenant', 'public'], /not a revision/],
    [['db', 'upgrade', 'ffffffffffff', '--tenant', 'public'], /no public revision matches/],
    [['db', 'downgrade', '-0', '--tenant', 'cli_one'], /downgrades nothing/],
    [['db', 'upgrade', 'head'], /--tenant <id\|public> is required/],
    [['db', 'upgrade', 'head', '--tenant', 'Bad-Name'], /--tenant "Bad-Name"/],
    [['db', 'upgrade', 'head', '--tenant', 'a;drop schema public'], /--tenant/],
    [['db', 'upgrade', 'head', '--tenant', 'x', '--all'], /either --tenant or --all/],
    [['db', 'upgrade', 'head', '--all', '--concurrency', 'lots'], /--concurrency must be a whole number/],
    [['db', 'upgrade', 'head', '--tenant', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['db', 'upgrade', '--tenant', 'x'], /expected exactly one revision/],
    [['db', 'frobnicate'], /unknown db command "frobnicate"/],
    [['nonsense'], /unknown command group "nonsense"/],
    [['db', 'revision'], /-m "message" is required/],
  ])('bad input %j → clear error, exit 2, nothing changed', async (args, message) => {
    const before = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_namespace`.execute(db);
    const run = await runCli(args, env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_namespace`.execute(db);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('--help works for the CLI and every db command', async () => {
    const top = await runCli(['--help'], env);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: tenantry <group> <command>');
    for (const command of [
      'upgrade',
      'downgrade',
      'current',
      'history',
      'check',
      'stamp',
      'drift',
      'revision',
    ]) {
      const help = await runCli(['db', command, '--help'], env);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toContain('Usage: tenantry db <command>');
    }
  });

  it('current, history and stamp', async () => {
    await core.tenants.create({ name: 'hist', tenantId: 'hist' });
    const current = await runCli(['db', 'current', '--tenant', 'hist', '--json'], env);
    expect(JSON.parse(current.stdout)).toEqual([
      expect.objectContaining({ schema: 'hist', current: head, behind: 0, migration_status: 'ok' }),
    ]);
    const history = await runCli(['db', 'history', '--tenant', 'hist'], env);
    expect(history.code).toBe(0);
    for (const migration of core.tenantRunner.set.migrations)
      expect(history.stdout).toContain(migration.revision);

    const stamp = await runCli(['db', 'stamp', revisions[0]!, '--tenant', 'hist'], env);
    expect(stamp.code).toBe(0);
    expect(stamp.stdout).toContain(`hist: stamped ${head} → ${revisions[0]}`);
    expect(await core.registry.find('hist')).toMatchObject({ revision: revisions[0] });
  });

  it('drift lists a hand-made change and exits 1', async () => {
    await core.tenants.create({ name: 'drifty', tenantId: 'drifty' });
    await sql`ALTER TABLE drifty.users ADD COLUMN nickname text`.execute(db);
    const run = await runCli(['db', 'drift', '--tenants', 'drifty'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('+ unexpected: column users.nickname text');
    const clean = await core.tenants.create({ name: 'clean', tenantId: 'clean_one' });
    expect(clean.tenant.tenant_id).toBe('clean_one');
    const ok = await runCli(['db', 'drift', '--tenants', 'clean_one', '--json'], env);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout).tenants[0]).toMatchObject({ missing: [], unexpected: [] });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ checked: 1, drifted: 0 });
  });

  it('revision -m writes a template that chains after the head and loads', async () => {
    // Inside the checkout (.data is git-ignored) so the template's `import … from 'kysely'` resolves.
    await mkdir(fileURLToPath(new URL('../../.data/', import.meta.url)), { recursive: true });
    const folder = await mkdtemp(fileURLToPath(new URL('../../.data/test-revision-', import.meta.url)));
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    const source = fileURLToPath(new URL('../fixtures/migrations/failing/', import.meta.url));
    // The fixtures' only import is type-only (erased), so the copies load from anywhere.
    for (const file of await readdir(source))
      await copyFile(path.join(source, file), path.join(folder, file));
    const run = await runCli(['db', 'revision', '-m', 'Add manual change', '--dir', folder], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Generating .*-[0-9a-f]{12}_add_manual_change\.ts \.\.\. done/);
    const set = await loadMigrationSet('tenant', folder);
    expect(set.migrations).toHaveLength(3);
    expect(set.migrations[2]!.follows).toBe('aaaaaaaaaaa2');
    expect(set.migrations[2]!.description).toBe('Add manual change');
  });
});

describe('tenantry db: status, gates, downgrades and host filters', () => {
  const versionRows = async (schema: string, host = DEFAULT_HOST) =>
    (
      await sql<{ revision: string; checksum: string | null }>`SELECT revision, checksum FROM ${sql.table(
        `${schema}.schema_migrations`,
      )} ORDER BY revision`.execute(core.hosts.db(host))
    ).rows;

  it('current --all: the public schema and every tenant on every host, with how far behind', async () => {
    await tenantBehind('cur_behind');
    await tenantBehind('cur_far', 'eu2', revisions[0]);
    await core.tenants.create({ name: 'cur_head', tenantId: 'cur_head' });
    const run = await runCli(['db', 'current', '--all', '--json'], env);
    const lines = JSON.parse(run.stdout) as Array<{ schema: string; unknown: string[] }>;
    // Behind is not an error for `current`; a schema ahead of the code (an earlier test's) is: exit 3.
    expect(run.code, run.stderr).toBe(lines.some((l) => l.unknown.length > 0) ? 3 : 0);
    const line = (schema: string) => lines.find((l) => l.schema === schema);
    expect(line('public')).toMatchObject({ host: DEFAULT_HOST, behind: 0, head: core.publicRunner.set.head });
    expect(line('cur_behind')).toMatchObject({
      host: DEFAULT_HOST,
      current: revisions.at(-2),
      head,
      behind: 1,
    });
    expect(line('cur_far')).toMatchObject({
      host: 'eu2',
      current: revisions[0],
      head,
      behind: revisions.length - 1,
    });
    expect(line('cur_head')).toMatchObject({ host: DEFAULT_HOST, current: head, behind: 0 });
    // Every registered tenant is listed, once.
    const registered = (await core.registry.list({ statuses: ['active', 'suspended'] })).map(
      (t) => t.tenant_id,
    );
    expect(
      lines
        .filter((l) => l.schema !== 'public')
        .map((l) => l.schema)
        .sort(),
    ).toEqual(registered.sort());
  });

  it('check exits 1 when an applied migration file changed since (checksum drift), 0 when it matches', async () => {
    await core.tenants.create({ name: 'chk_drift', tenantId: 'chk_drift' });
    const clean = await runCli(['db', 'check', '--tenant', 'chk_drift', '--json'], env);
    expect(clean.code, clean.stdout).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true });

    // What the schema recorded when the revision ran no longer matches the file (edited after applying).
    // `v2:` is today's checksum format; older formats are not compared (src/migrations/migration-set.ts).
    const recorded = (await versionRows('chk_drift')).find((row) => row.revision === head)!.checksum;
    expect(recorded).toBeTruthy();
    await sql`UPDATE chk_drift.schema_migrations SET checksum = 'v2:edited-after-applying' WHERE revision = ${head}`.execute(
      db,
    );
    const drifted = await runCli(['db', 'check', '--tenant', 'chk_drift', '--json'], env);
    expect(drifted.code).toBe(1);
    const report = JSON.parse(drifted.stdout);
    expect(report.ok).toBe(false);
    expect(report.schemas.find((l: { schema: string }) => l.schema === 'chk_drift')).toMatchObject({
      behind: 0,
      drifted: [head],
    });
    const current = await runCli(['db', 'current', '--tenant', 'chk_drift', '--json'], env);
    expect(current.code).toBe(0);
    expect(JSON.parse(current.stdout)[0]).toMatchObject({ schema: 'chk_drift', drifted: [head] });

    await sql`UPDATE chk_drift.schema_migrations SET checksum = ${recorded} WHERE revision = ${head}`.execute(
      db,
    );
    expect((await runCli(['db', 'check', '--tenant', 'chk_drift'], env)).code).toBe(0);
  });

  it('downgrade --dry-run changes nothing; downgrade base empties the schema; upgrade head restores it', async () => {
    await core.tenants.create({ name: 'down_base', tenantId: 'down_base' });
    const atHead = await catalogSnapshot(db, 'down_base');
    const rowsAtHead = await versionRows('down_base');

    const dry = await runCli(
      ['db', 'downgrade', 'base', '--tenant', 'down_base', '--dry-run', '--json'],
      env,
    );
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout);
    expect(planned).toMatchObject({ schema: 'down_base', from: head, to: null, dryRun: true });
    expect(planned.steps.map((s: { revision: string }) => s.revision)).toEqual([...revisions].reverse());
    expect(await catalogSnapshot(db, 'down_base')).toEqual(atHead);
    expect(await versionRows('down_base')).toEqual(rowsAtHead);
    expect(await core.registry.find('down_base')).toMatchObject({ revision: head });

    // Down to base drops the seeded rows: refused unless confirmed (pinning.test.ts proves the refusal).
    const down = await runCli(
      ['db', 'downgrade', 'base', '--tenant', 'down_base', '--confirm', 'down_base', '--json'],
      env,
    );
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ from: head, to: null, dryRun: false });
    expect(await versionRows('down_base')).toEqual([]);
    expect((await core.tenantRunner.status(targetOf('down_base'))).current).toBeNull();
    // Nothing of any revision is left: only the version table itself.
    const tables = await sql<{ name: string }>`
      SELECT tablename AS name FROM pg_tables WHERE schemaname = 'down_base' ORDER BY 1`.execute(db);
    expect(tables.rows.map((r) => r.name)).toEqual(['schema_migrations']);
    expect((await core.registry.find('down_base'))?.revision ?? null).toBeNull();

    const up = await runCli(['db', 'upgrade', 'head', '--tenant', 'down_base'], env);
    expect(up.code).toBe(0);
    expect(await catalogSnapshot(db, 'down_base')).toEqual(atHead);
  });

  it('--host limits a fleet upgrade and a drift check to that host; an unknown host is refused', async () => {
    await tenantBehind('hf_home');
    await tenantBehind('hf_away', 'eu2');
    const onEu2 = new Set(
      (await core.registry.list({ statuses: ['active', 'suspended'] }))
        .filter((t) => t.host === 'eu2')
        .map((t) => t.tenant_id),
    );

    const run = await runCli(['db', 'upgrade', 'head', '--all', '--host', 'eu2', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout).results as Array<{ tenant_id: string; host: string }>;
    expect(results.map((r) => r.tenant_id)).toContain('hf_away');
    for (const result of results) {
      expect(result.host, result.tenant_id).toBe('eu2');
      expect(onEu2.has(result.tenant_id), result.tenant_id).toBe(true);
    }
    expect((await core.tenantRunner.status(targetOf('hf_away', 'eu2'))).current).toBe(head);
    expect((await core.tenantRunner.status(targetOf('hf_home'))).current).toBe(revisions.at(-2));

    const drift = await runCli(['db', 'drift', '--host', 'eu2', '--json'], env);
    expect(drift.code, drift.stdout).toBe(0);
    const checked = JSON.parse(drift.stdout).tenants as Array<{ tenant_id: string; host: string }>;
    expect(checked.map((t) => t.tenant_id)).toContain('hf_away');
    for (const entry of checked) expect(entry.host, entry.tenant_id).toBe('eu2');

    for (const command of [
      ['db', 'upgrade', 'head', '--all', '--host', 'nowhere'],
      ['db', 'drift', '--host', 'nowhere'],
    ]) {
      const refused = await runCli(command, env);
      expect(refused.code, command.join(' ')).toBe(2);
      expect(refused.stderr).toContain('nowhere');
    }
    expect((await core.tenantRunner.status(targetOf('hf_home'))).current).toBe(revisions.at(-2));
  });
});

describe('fleet upgrade (API)', () => {
  it('bounded concurrency, per-tenant failure isolation, outcomes in the registry', async () => {
    const failing = new MigrationRunner(await loadMigrationSet('tenant', fixtures('failing')));
    const registry = new TenantRegistry(db);
    const ids = ['fx_1', 'fx_2', 'fx_3', 'fx_bad'];
    for (const id of ids) {
      await failing.upgrade(targetOf(id), { to: 'aaaaaaaaaaa1' });
      await registry.insert({
        tenant_id: id,
        name: id,
        host: DEFAULT_HOST,
        status: 'active',
        revision: 'aaaaaaaaaaa1',
      });
    }
    await sql`INSERT INTO fx_bad.things VALUES (-5)`.execute(db);
    const progress: number[] = [];
    const report = await upgradeFleet(core.hosts, registry, failing, {
      tenants: ids,
      concurrency: 2,
      onProgress: (done) => progress.push(done),
    });
    expect(report).toMatchObject({ total: 4, upgraded: 3, failed: 1 });
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(report.results.find((r) => r.tenant_id === 'fx_bad')?.error).toMatch(/things_positive/);
    expect(await registry.find('fx_bad')).toMatchObject({
      migration_status: 'failed',
      revision: 'aaaaaaaaaaa1',
    });
    expect(await registry.find('fx_1')).toMatchObject({ migration_status: 'ok', revision: 'aaaaaaaaaaa2' });

    const dry = await upgradeFleet(core.hosts, registry, failing, { tenants: ids, dryRun: true });
    expect(dry).toMatchObject({ up_to_date: 3, failed: 1, would_upgrade: 0 });
  });
});

function fixtures(name: string): string {
  return fileURLToPath(new URL(`../fixtures/migrations/${name}/`, import.meta.url));
}
