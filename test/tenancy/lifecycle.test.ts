/**
 * Tenant lifecycle under deletion and odd revisions (issue 13; issue 14's deletion and upgrade items):
 *  - deleted tenants stay deleted: a fleet or on-demand upgrade that waited for the schema lock while the
 *    tenant was dropped reports "deleted" and creates nothing; orphan schemas are reported;
 *  - a second process sees a deletion as 404 / 503 + Retry-After, never 500;
 *  - concurrent deletions: exactly one 204;
 *  - a database newer than the code is not a failure;
 *  - on-demand upgrades: bounded, on connections of their own, failures are 503 at sign-in too.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { upgradeFleet } from '../../src/migrations/fleet.ts';
import { LISTEN_KEEPALIVE_DELAY_MS } from '../../src/tenancy/registry-cache.ts';
import { accountsApp, PASSWORD, randomIp, signUp } from '../accounts/helpers.ts';
import { collect, spawnCli } from '../helpers/cli.ts';
import { ADMIN, SECOND_HOST, testCore } from '../helpers/core.ts';
import { randomTenantId, schemaExists, tenancyApp, withProbe } from './helpers.ts';

const probe = (tenant: string) => ({ method: 'GET' as const, url: '/_test/roles', headers: { tenant } });

type Core = Awaited<ReturnType<typeof testCore>>;
type AnyCore = Omit<Core, 'database'>;

/** Puts a tenant one revision behind head (schema and registry agree). */
async function oneBehind(core: AnyCore, id: string, host = DEFAULT_HOST): Promise<void> {
  const down = await core.tenantRunner.downgrade({ host, db: core.hosts.db(host), schema: id }, { steps: 1 });
  await core.registry.recordMigration(id, { revision: down.to, status: 'ok', error: null });
}

/**
 * Holds the tenant's schema lock (the runner's own) until `release` is called; `drop()` deletes the
 * tenant inside that transaction, exactly as TenantService.delete does on the default host.
 */
async function holdSchemaLock(core: AnyCore, id: string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding!: () => void;
  const held = new Promise<void>((resolve) => {
    holding = resolve;
  });
  let dropIt = false;
  const done = core.tenantRunner.withSchemaLock(
    { host: DEFAULT_HOST, db: core.hosts.db(), schema: id },
    async (conn) => {
      holding();
      await released;
      if (dropIt) {
        await sql`DROP SCHEMA ${sql.id(id)} CASCADE`.execute(conn);
        await sql`DELETE FROM public.tenants WHERE tenant_id = ${id}`.execute(conn);
      }
    },
  );
  await held;
  return {
    async dropAndRelease() {
      dropIt = true;
      release();
      await done;
    },
  };
}

/** Waits until `n` backends wait for an advisory lock (the runner's schema lock). */
async function waitersOnAdvisoryLock(core: AnyCore, n: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const rows = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event = 'advisory'`.execute(core.hosts.db());
      expect(rows.rows[0]!.n).toBe(n);
    },
    { timeout: 15_000, interval: 50 },
  );
}

describe('deleted tenants stay deleted', { timeout: 90_000 }, () => {
  it('a fleet upgrade waiting on the schema lock while the tenant is deleted reports "deleted" and creates nothing', async () => {
    const core = await testCore();
    const id = randomTenantId('fleetdel');
    await core.tenants.create({ name: 'Doomed', tenantId: id });
    await oneBehind(core, id);

    const lock = await holdSchemaLock(core, id);
    const fleet = upgradeFleet(core.hosts, core.registry, core.tenantRunner, { tenants: [id] });
    await waitersOnAdvisoryLock(core, 1);
    await lock.dropAndRelease();
    const report = await fleet;

    expect(report.results).toEqual([expect.objectContaining({ tenant_id: id, outcome: 'deleted' })]);
    expect(report.failed).toBe(0);
    expect(await schemaExists(core.hosts.db(), id)).toBe(false);
    expect(await core.registry.find(id)).toBeUndefined();
    // The id is free again (before: 409 "already exists" for ever).
    await core.tenants.create({ name: 'Reborn', tenantId: id });
  });

  it('an on-demand upgrade waiting on the lock while the tenant is deleted answers 404 and creates nothing', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const { core } = app;
    const id = randomTenantId('odel');
    await core.tenants.create({ name: 'Doomed', tenantId: id });
    await oneBehind(core, id);
    app.registryCache.invalidate(id);

    const lock = await holdSchemaLock(core, id);
    const response = app.inject(probe(id));
    await waitersOnAdvisoryLock(core, 1);
    await lock.dropAndRelease();
    expect((await response).statusCode).toBe(404);
    expect(await schemaExists(core.hosts.db(), id)).toBe(false);
    expect((await app.inject(probe(id))).statusCode).toBe(404);
  });

  it('a schema without a registry row is an orphan in GET /cc/drift, db check and db drift', async () => {
    const app = await tenancyApp();
    const { core } = app;
    const [kept, orphan] = [randomTenantId('kept'), randomTenantId('orphan')];
    await core.tenants.create({ name: 'Kept', tenantId: kept });
    await core.tenants.create({ name: 'Orphan', tenantId: orphan });
    await sql`DELETE FROM public.tenants WHERE tenant_id = ${orphan}`.execute(core.hosts.db());

    const drift = await app.inject({ method: 'GET', url: '/cc/drift', headers: ADMIN });
    expect(drift.statusCode).toBe(200);
    expect(drift.json().orphans).toEqual([{ host: DEFAULT_HOST, schema: orphan }]);

    const env = { DATABASE_URL: core.hosts.url(DEFAULT_HOST) };
    const [check, driftCli] = await Promise.all([
      collect(spawnCli(['db', 'check', '--json'], env)),
      collect(spawnCli(['db', 'drift'], env)),
    ]);
    expect(check.code, check.stderr).toBe(1);
    expect(JSON.parse(check.stdout)).toMatchObject({
      ok: false,
      orphans: [{ host: DEFAULT_HOST, schema: orphan }],
    });
    expect(driftCli.code, driftCli.stderr).toBe(1);
    expect(driftCli.stdout).toContain(`orphan schema ${orphan} on host ${DEFAULT_HOST}`);
  });
});

describe('other processes see a deletion cleanly', { timeout: 90_000 }, () => {
  it('a tenant dropped under a second process answers 503 + Retry-After, then 404 — never 500', async () => {
    const core = await testCore();
    const [a, b] = await Promise.all([
      tenancyApp({ core, setup: withProbe }),
      tenancyApp({ core, setup: withProbe }),
    ]);
    const id = randomTenantId('gone');
    await core.tenants.create({ name: 'Gone', tenantId: id });
    expect((await b.inject(probe(id))).statusCode).toBe(200); // cached in b

    // The schema disappears while b still has the row (a deletion in progress elsewhere; no NOTIFY yet).
    await sql`DROP SCHEMA ${sql.id(id)} CASCADE`.execute(core.hosts.db());
    const during = await b.inject(probe(id));
    expect(during.statusCode).toBe(503);
    expect(during.headers['retry-after']).toBe('1');
    // Then the row goes too, still without a notification reaching b.
    await sql`DELETE FROM public.tenants WHERE tenant_id = ${id}`.execute(core.hosts.db());
    const after = await b.inject(probe(id));
    expect(after.statusCode).toBe(404);

    // The real thing, with requests in flight in b while a deletes through the control center.
    const other = randomTenantId('racing');
    await core.tenants.create({ name: 'Racing', tenantId: other });
    const burst = Array.from({ length: 30 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 5)).then(() => b.inject(probe(other))),
    );
    const deleted = await a.inject({
      method: 'DELETE',
      url: `/cc/tenants/${other}?confirm=${other}`,
      headers: ADMIN,
    });
    expect(deleted.statusCode).toBe(204);
    const codes = (await Promise.all(burst)).map((r) => r.statusCode);
    expect(codes.every((code) => code === 200 || code === 404 || code === 503)).toBe(true);
  });

  it('an upgrade’s re-read racing a deletion leaves no stale row in the cache', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const { core } = app;
    const id = randomTenantId('stale');
    await core.tenants.create({ name: 'Stale', tenantId: id });
    await oneBehind(core, id);
    app.registryCache.invalidate(id);

    const original = core.registry.find.bind(core.registry);
    const record = core.registry.recordMigration.bind(core.registry);
    let upgraded = false;
    vi.spyOn(core.registry, 'recordMigration').mockImplementation(async (...args) => {
      await record(...args);
      upgraded = true;
    });
    vi.spyOn(core.registry, 'find').mockImplementation(async (tenantId, db) => {
      const row = await original(tenantId, db);
      if (upgraded && tenantId === id && row) {
        upgraded = false;
        // The tenant is deleted while this lookup is in flight; its NOTIFY arrives before the answer.
        await core.tenants.delete(id);
        app.registryCache.invalidate(id);
      }
      return row;
    });
    const first = await app.inject(probe(id));
    expect([404, 503]).toContain(first.statusCode);
    expect(app.registryCache.stats().positive).toBe(0);
    expect((await app.inject(probe(id))).statusCode).toBe(404);
  });

  it('the LISTEN connection uses TCP keep-alive with a short initial delay', async () => {
    const app = await tenancyApp();
    await app.registryCache.whenListening();
    const connection = (
      app.registryCache.listener as unknown as {
        connection: { _keepAlive: boolean; _keepAliveInitialDelayMillis: number };
      }
    ).connection;
    // pg's Connection passes these to socket.setKeepAlive(true, delay) when it connects.
    expect(connection._keepAlive).toBe(true);
    expect(connection._keepAliveInitialDelayMillis).toBe(LISTEN_KEEPALIVE_DELAY_MS);
    expect(LISTEN_KEEPALIVE_DELAY_MS).toBeGreaterThan(0);
    expect(LISTEN_KEEPALIVE_DELAY_MS).toBeLessThanOrEqual(30_000);
  });
});

describe('concurrent deletions', { timeout: 90_000 }, () => {
  it('five concurrent DELETEs of one tenant: exactly one 204, the others 404 (default and second host)', async () => {
    const app = await tenancyApp({ secondHost: true });
    for (const host of [DEFAULT_HOST, SECOND_HOST]) {
      const id = randomTenantId('del5');
      await app.core.tenants.create({ name: 'Five', tenantId: id, host });
      const responses = await Promise.all(
        Array.from({ length: 5 }, () =>
          app.inject({ method: 'DELETE', url: `/cc/tenants/${id}?confirm=${id}`, headers: ADMIN }),
        ),
      );
      expect(responses.map((r) => r.statusCode).sort()).toEqual([204, 404, 404, 404, 404]);
      expect(await schemaExists(app.core.hosts.db(host), id)).toBe(false);
      expect(await app.core.registry.find(id)).toBeUndefined();
    }
  });
});

describe('a database newer than the code', { timeout: 90_000 }, () => {
  it('is not a failure: the registry keeps status ok and shows the unknown revision, behind null', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const { core } = app;
    const id = randomTenantId('ahead');
    await core.tenants.create({ name: 'Ahead', tenantId: id });
    await sql`INSERT INTO ${sql.id(id)}.schema_migrations (revision, name)
              VALUES ('fffffffffff1', 'from a newer release')`.execute(core.hosts.db());

    const report = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, { tenants: [id] });
    expect(report.results[0]).toMatchObject({ outcome: 'ahead', to: 'fffffffffff1' });
    expect(report.failed).toBe(0);
    expect(await core.registry.find(id)).toMatchObject({
      revision: 'fffffffffff1',
      migration_status: 'ok',
    });
    const shown = await app.inject({ method: 'GET', url: `/cc/tenants/${id}`, headers: ADMIN });
    expect(shown.json()).toMatchObject({ revision: 'fffffffffff1', behind: null, migration_status: 'ok' });
    app.registryCache.invalidate(id);
    expect((await app.inject(probe(id))).statusCode).toBe(200);

    // A single upgrade (CLI / control center) records the same, not `failed`.
    const migrate = await app.inject({ method: 'POST', url: `/cc/tenants/${id}/migrate`, headers: ADMIN });
    expect(migrate.statusCode).not.toBe(500);
    expect(await core.registry.find(id)).toMatchObject({ migration_status: 'ok' });
  });
});

describe('on-demand upgrades', { timeout: 120_000 }, () => {
  it('sign-in for a tenant whose on-demand upgrade fails answers 503 + Retry-After', async () => {
    const context = await accountsApp();
    const { app } = context;
    const owner = await signUp(context);
    const target = { host: DEFAULT_HOST, db: app.core.hosts.db(), schema: owner.tenant };
    await app.core.tenantRunner.downgrade(target, { to: 'base', allowDataLoss: true });
    await app.core.registry.recordMigration(owner.tenant, { revision: null, status: 'ok', error: null });
    // An object in the way of the first revision makes its CREATE TABLE fail.
    await sql`CREATE TABLE ${sql.id(owner.tenant)}.roles (squatter int)`.execute(app.core.hosts.db());
    app.registryCache.invalidate(owner.tenant);

    const response = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: owner.email, password: PASSWORD },
      remoteAddress: randomIp(),
    });
    expect(response.statusCode, response.body).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
  });

  it('a burst naming tenants behind head runs at most 2 upgrades, on their own connections; other tenants keep the pool', async () => {
    const app = await tenancyApp({ setup: withProbe, poolSize: 2 });
    const { core } = app;
    const atHead = randomTenantId('head');
    await core.tenants.create({ name: 'At head', tenantId: atHead });
    const behind = Array.from({ length: 5 }, (_, i) => randomTenantId(`behind${i}`));
    for (const id of behind) {
      await core.tenants.create({ name: id, tenantId: id });
      await oneBehind(core, id);
    }
    // Every upgrade stops inside its transaction: the last revision's tables reference users.
    const blocker = new pg.Client({ connectionString: core.hosts.url(DEFAULT_HOST) });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      for (const id of behind) await blocker.query(`LOCK TABLE ${id}.users IN ACCESS EXCLUSIVE MODE`);
      const burst = behind.flatMap((id) => [app.inject(probe(id)), app.inject(probe(id))]);
      await vi.waitFor(
        async () => {
          const rows = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'tenantry-upgrader'
              AND wait_event_type = 'Lock'`.execute(core.hosts.db());
          expect(rows.rows[0]!.n).toBe(2);
        },
        { timeout: 15_000, interval: 50 },
      );
      // A tenant at head is served at once although every upgrade is stuck.
      const served = await Promise.race([
        app.inject(probe(atHead)),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000)),
      ]);
      expect(served?.statusCode).toBe(200);
      const upgraders = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'tenantry-upgrader'`.execute(
        core.hosts.db(),
      );
      expect(upgraders.rows[0]!.n).toBeLessThanOrEqual(2);
      await blocker.query('COMMIT');
      const codes = (await Promise.all(burst)).map((r) => r.statusCode);
      expect(codes.every((code) => code === 200 || code === 503)).toBe(true);
    } finally {
      await blocker.end().catch(() => {});
    }
  });
});
