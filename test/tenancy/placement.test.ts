/**
 * Placement of new tenants across database hosts (issue 17, TENANT_PLACEMENT) and the hosts view
 * (`GET /cc/hosts`, `tenantry hosts list`), on the harness's two real PostgreSQL servers plus a host
 * nobody listens on (`down`, 127.0.0.1:1): it is skipped with its reason and shown as unreachable.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { tenantsPerHost } from '../../src/tenancy/host-stats.ts';
import { pickHost } from '../../src/tenancy/placement.ts';
import { runCli } from '../helpers/cli.ts';
import { ADMIN, SECOND_HOST, testApp, testCore } from '../helpers/core.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { randomTenantId } from './helpers.ts';

const DOWN = 'down';
const database = await createTestDatabase();
const second = await createTestDatabase({ host: 2 });
const hostUrls = JSON.stringify({
  [SECOND_HOST]: second.url,
  [DOWN]: 'postgres://tenantry@127.0.0.1:1/none',
});
const envFor = (policy: string) => ({ TENANT_PLACEMENT: policy, TENANT_DATABASE_URLS: hostUrls });

const counts = async (core: Awaited<ReturnType<typeof testCore>>) => {
  const perHost = await tenantsPerHost(core);
  return { [DEFAULT_HOST]: perHost.get(DEFAULT_HOST) ?? 0, [SECOND_HOST]: perHost.get(SECOND_HOST) ?? 0 };
};

describe('placement', { timeout: 120_000 }, () => {
  it('least-tenants spreads 20 concurrent creations from two processes evenly, skipping an unreachable host', async () => {
    // Two Cores = two pools and two in-process turns: only the advisory lock on the default host keeps
    // them from counting the same tenants at once.
    const [one, two] = await Promise.all([
      testCore({ database, env: envFor('least-tenants') }),
      testCore({ database, env: envFor('least-tenants') }),
    ]);
    const before = await counts(one);
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? one : two).tenants.create({ name: `Spread ${i}`, tenantId: randomTenantId('spread') }),
      ),
    );
    const after = await counts(one);
    const added = {
      [DEFAULT_HOST]: after[DEFAULT_HOST] - before[DEFAULT_HOST],
      [SECOND_HOST]: after[SECOND_HOST] - before[SECOND_HOST],
    };
    expect(added[DEFAULT_HOST] + added[SECOND_HOST]).toBe(20);
    expect(Math.abs(after[DEFAULT_HOST] - after[SECOND_HOST])).toBeLessThanOrEqual(1);
    for (const { tenant, placement } of created) {
      expect(tenant.status).toBe('active');
      expect(placement.policy).toBe('least-tenants');
      expect(placement.host).toBe(tenant.host);
      expect(placement.skipped).toEqual([{ host: DOWN, reason: expect.stringMatching(/ECONNREFUSED/) }]);
    }
    expect((await tenantsPerHost(one)).get(DOWN)).toBeUndefined();

    // A named host always wins over the policy.
    const named = await one.tenants.create({
      name: 'Named',
      tenantId: randomTenantId('named'),
      host: SECOND_HOST,
    });
    expect(named.placement).toEqual({ host: SECOND_HOST, policy: 'named', skipped: [] });
  });

  it('least-size puts a tenant on the host whose tenant schemas are smallest', async () => {
    const core = await testCore({ database, env: envFor('least-size') });
    // Make the default host's tenants clearly the bigger ones: ~10 MB more in one of them.
    const big = await core.tenants.create({
      name: 'Big',
      tenantId: randomTenantId('big'),
      host: DEFAULT_HOST,
    });
    await sql`CREATE TABLE ${sql.table(`${big.tenant.tenant_id}.filler`)} AS
              SELECT repeat('x', 500) AS x FROM generate_series(1, 20000)`.execute(core.hosts.db());
    const small = await core.tenants.create({ name: 'Small', tenantId: randomTenantId('small') });
    expect(small.placement).toMatchObject({ policy: 'least-size', host: SECOND_HOST });
    expect(small.tenant.host).toBe(SECOND_HOST);
  });

  it('pickHost: fewest tenants, then smallest, configured order among equals; none reachable → undefined', () => {
    const host = (name: string, tenants: number, bytes: number | null, reachable = true) => ({
      host: name,
      tenants,
      reachable,
      error: reachable ? null : 'refused',
      tenant_bytes: bytes,
      database_bytes: null,
      connections: null,
      host_revision: null,
      host_head: null,
    });
    const stats = [host('default', 3, 900), host('a', 2, 5_000), host('b', 2, 100), host('c', 0, 0, false)];
    expect(pickHost('least-tenants', stats)).toBe('a');
    expect(pickHost('least-size', stats)).toBe('b');
    expect(pickHost('least-tenants', [host('x', 0, 0, false)])).toBeUndefined();
  });
});

describe('hosts view', { timeout: 120_000 }, () => {
  it('GET /cc/hosts and `tenantry hosts list` show tenants, sizes, connections, revision and an unreachable host', async () => {
    const app = await testApp({ database, env: envFor('least-tenants') });
    const created = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'Via cc', tenant_id: randomTenantId('cc') },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().placement).toMatchObject({ policy: 'least-tenants', skipped: [{ host: DOWN }] });

    const answer = await app.inject({ method: 'GET', url: '/cc/hosts', headers: ADMIN });
    expect(answer.statusCode, answer.body).toBe(200);
    const body = answer.json() as { policy: string; items: Array<Record<string, unknown>> };
    expect(body.policy).toBe('least-tenants');
    expect(body.items.map((item) => item.host)).toEqual([DEFAULT_HOST, DOWN, SECOND_HOST]);
    const perHost = await tenantsPerHost(app.core);
    const head = app.core.hostMigrations.runner.set.head;
    for (const name of [DEFAULT_HOST, SECOND_HOST]) {
      const item = body.items.find((i) => i.host === name)!;
      expect(item).toMatchObject({
        reachable: true,
        error: null,
        tenants: perHost.get(name) ?? 0,
        host_revision: head,
        host_head: head,
      });
      expect(item.tenant_bytes as number).toBeGreaterThan(0);
      expect(item.database_bytes as number).toBeGreaterThan(item.tenant_bytes as number);
      expect(item.connections as number).toBeGreaterThan(0);
    }
    expect(body.items.find((i) => i.host === DOWN)).toMatchObject({
      reachable: false,
      error: expect.stringMatching(/ECONNREFUSED/),
      tenants: 0,
      connections: null,
    });
    expect((await app.inject({ method: 'GET', url: '/cc/hosts' })).statusCode).toBe(401);

    const cli = await runCli(['hosts', 'list'], { DATABASE_URL: database.url, ...envFor('least-tenants') });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(
      /^HOST\s+TENANTS\s+TENANT SIZE\s+DB SIZE\s+CONNECTIONS\s+HOST REVISION\s+STATUS/,
    );
    expect(cli.stdout).toMatch(new RegExp(`${DOWN}\\s+0\\s+-\\s+-\\s+-\\s+-\\s+unreachable: .*ECONNREFUSED`));
    expect(cli.stdout).toMatch(
      new RegExp(`${SECOND_HOST}\\s+\\d+\\s+[\\d.]+ [kM]B\\s+[\\d.]+ MB\\s+\\d+\\s+${head}\\s+ok`),
    );
    expect(cli.stdout).toContain('placement: least-tenants (TENANT_PLACEMENT)');
    const json = await runCli(['hosts', 'list', '--json'], {
      DATABASE_URL: database.url,
      ...envFor('default'),
    });
    expect(JSON.parse(json.stdout)).toMatchObject({ policy: 'default', items: expect.any(Array) });
  });
});
