/**
 * A deliberate downgrade is not undone (issue 13): the downgraded tenant is pinned — the on-demand
 * upgrader and fleet runs (start-up included) leave it alone unless they name it — until an explicit
 * upgrade; a downgrade that would drop tables or columns holding rows is refused unless confirmed, and a
 * dry run says what it would drop; the fleet downgrade follows the same rules.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { upgradeFleet } from '../../src/migrations/fleet.ts';
import { downgradeFleet } from '../../src/migrations/fleet-downgrade.ts';
import { MigrationSet } from '../../src/migrations/migration-set.ts';
import { DataLossError, MigrationRunner } from '../../src/migrations/runner.ts';
import { RegistryCache, toCachedTenant } from '../../src/tenancy/registry-cache.ts';
import { downgradeTenant, upgradeTenant } from '../../src/tenancy/tenant-migrations.ts';
import { TenantUpgrader } from '../../src/tenancy/tenant-upgrader.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;
const cache = new RegistryCache(core.registry);
onFileEnd(() => cache.close());
const upgrader = new TenantUpgrader({
  hosts: core.hosts,
  registry: core.registry,
  runner: core.tenantRunner,
  cache,
});

async function row(tenantId: string) {
  const found = await core.registry.find(tenantId);
  if (!found) throw new Error(`no tenant ${tenantId}`);
  return found;
}

/** A user and a task in the tenant, so the last revision's tables hold rows. */
/** A row in a table of the head revision (webhooks), so that downgrading one step would drop data. */
async function withData(tenantId: string): Promise<void> {
  await sql`
    INSERT INTO ${sql.id(tenantId, 'webhooks')} (url, event_types, secret, delivered_through)
    VALUES ('https://hooks.example.com/keep', '{task.*}', 'whsec_test', 0)`.execute(db);
}

describe('pinned after a downgrade', () => {
  it('the on-demand upgrader and a fleet run leave a downgraded tenant alone until an explicit upgrade', async () => {
    await core.tenants.create({ name: 'Pinned', tenantId: 'pin_one' });
    await downgradeTenant(core, 'pin_one', { steps: 1 });
    const pinned = await row('pin_one');
    expect(pinned.revision).toBe(revisions.at(-2));
    expect(pinned.pinned_at).not.toBeNull();

    // The server's next request: not behind (pinned), so no upgrade.
    expect(upgrader.isBehind(toCachedTenant(pinned))).toBe(false);
    // A fleet run (the server's start-up run is one) that does not name it skips it.
    const fleet = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, {});
    expect(fleet.results.find((r) => r.tenant_id === 'pin_one')).toMatchObject({ outcome: 'skipped' });
    expect(fleet.skipped).toBe(1);
    expect((await core.tenantRunner.status({ host: DEFAULT_HOST, db, schema: 'pin_one' })).current).toBe(
      revisions.at(-2),
    );

    // Naming it is an explicit upgrade: done, and the pin is gone.
    const named = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, { tenants: ['pin_one'] });
    expect(named.results[0]).toMatchObject({ tenant_id: 'pin_one', outcome: 'upgraded', to: head });
    expect(await row('pin_one')).toMatchObject({ revision: head, pinned_at: null });
  });

  it('an explicit single upgrade unpins; the next request is served normally', async () => {
    await core.tenants.create({ name: 'Pinned two', tenantId: 'pin_two' });
    await downgradeTenant(core, 'pin_two', { steps: 2 });
    expect((await row('pin_two')).pinned_at).not.toBeNull();
    await upgradeTenant(core, 'pin_two', { to: revisions.at(-2) });
    const unpinned = await row('pin_two');
    expect(unpinned).toMatchObject({ revision: revisions.at(-2), pinned_at: null });
    expect(upgrader.isBehind(toCachedTenant(unpinned))).toBe(true);
  });
});

describe('a downgrade that drops data', () => {
  it('is refused without confirmation, naming tables and row counts; nothing changes', async () => {
    await core.tenants.create({ name: 'Data', tenantId: 'pin_data' });
    await withData('pin_data');
    const before = await catalogSnapshot(db, 'pin_data');
    const error = await downgradeTenant(core, 'pin_data', { steps: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataLossError);
    expect((error as DataLossError).drops).toEqual([{ table: 'webhooks', column: null, rows: 1 }]);
    expect((error as Error).message).toMatch(/would drop table webhooks \(1 rows\); nothing was changed/);
    expect(await catalogSnapshot(db, 'pin_data')).toEqual(before);
    expect(await row('pin_data')).toMatchObject({ revision: head, pinned_at: null, migration_status: 'ok' });

    // A dry run shows what would go; confirmed, it goes.
    const dry = await downgradeTenant(core, 'pin_data', { steps: 1, dryRun: true });
    expect(dry.drops).toEqual([{ table: 'webhooks', column: null, rows: 1 }]);
    expect(await catalogSnapshot(db, 'pin_data')).toEqual(before);
    const done = await downgradeTenant(core, 'pin_data', { steps: 1, allowDataLoss: true });
    expect(done.to).toBe(revisions.at(-2));
    expect(await row('pin_data')).toMatchObject({ revision: revisions.at(-2) });
  });

  it('a dropped column holding values counts too; dropping an empty table or column does not ask', async () => {
    const revision = (id: string, follows: string | null, up: string, down: string) => ({
      revision: id,
      name: `2026_01_01_0000-${id}_test`,
      file: `${id}.ts`,
      description: 'test',
      follows,
      up,
      down,
      checksum: `v2:${id}`,
    });
    const runner = new MigrationRunner(
      new MigrationSet('tenant', [
        revision(
          'aaaaaaaaaaa1',
          null,
          'CREATE TABLE t (id int); CREATE TABLE e (id int)',
          'DROP TABLE t; DROP TABLE e',
        ),
        revision(
          'aaaaaaaaaaa2',
          'aaaaaaaaaaa1',
          'ALTER TABLE t ADD COLUMN note text',
          'ALTER TABLE t DROP COLUMN note',
        ),
      ]),
    );
    const target = { host: DEFAULT_HOST, db, schema: 'pin_columns' };
    await runner.upgrade(target);
    await sql`INSERT INTO pin_columns.t VALUES (1, NULL), (2, 'kept'), (3, 'also')`.execute(db);
    await expect(runner.downgrade(target, { steps: 1 })).rejects.toThrow(
      /would drop column t.note \(2 values\)/,
    );
    await sql`UPDATE pin_columns.t SET note = NULL`.execute(db);
    expect((await runner.downgrade(target, { steps: 1 })).drops).toEqual([]);
    await sql`DELETE FROM pin_columns.t`.execute(db);
    // Both tables empty now: dropped without asking.
    expect((await runner.downgrade(target, { to: 'base' })).drops).toEqual([]);
  });

  it('the fleet downgrade: each tenant by the same rules, --confirm per tenant, everyone downgraded is pinned', async () => {
    await core.tenants.create({ name: 'Fleet a', tenantId: 'pin_fa' });
    await core.tenants.create({ name: 'Fleet b', tenantId: 'pin_fb' });
    await core.tenants.create({ name: 'Fleet c', tenantId: 'pin_fc' });
    await withData('pin_fb');
    await withData('pin_fc');
    const report = await downgradeFleet(core.hosts, core.registry, core.tenantRunner, {
      steps: 1,
      tenants: ['pin_fa', 'pin_fb', 'pin_fc'],
      confirm: ['pin_fc'],
    });
    const outcome = Object.fromEntries(report.results.map((r) => [r.tenant_id, r.outcome]));
    expect(outcome).toEqual({ pin_fa: 'downgraded', pin_fb: 'refused', pin_fc: 'downgraded' });
    expect(report.results.find((r) => r.tenant_id === 'pin_fb')!.error).toMatch(/--confirm pin_fb/);
    expect(await row('pin_fa')).toMatchObject({ revision: revisions.at(-2) });
    expect((await row('pin_fa')).pinned_at).not.toBeNull();
    expect(await row('pin_fb')).toMatchObject({ revision: head, pinned_at: null });
    expect((await row('pin_fc')).pinned_at).not.toBeNull();
  });
});
