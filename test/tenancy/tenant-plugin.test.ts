import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';

import { randomTenantId, tenancyApp, withProbe } from './helpers.ts';

const probe = (tenant?: string) => ({
  method: 'GET' as const,
  url: '/_test/roles',
  headers: tenant === undefined ? {} : { tenant },
});

describe('tenant resolution (request.tenant)', () => {
  it('routes a request to its tenant schema and decorates request.tenant', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const id = randomTenantId();
    await app.core.tenants.create({ name: 'Acme', tenantId: id });
    const response = await app.inject(probe(id));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ tenant: id, host: DEFAULT_HOST, schema: id });
    expect(response.json().roles).toEqual(expect.arrayContaining(['ADMIN', 'MEMBER', 'OWNER']));
  });

  it('answers 400 for a missing or invalid header, before any registry query', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const find = vi.spyOn(app.core.registry, 'find');
    for (const bad of [
      '',
      'Acme',
      'public',
      'pg_catalog',
      '../x',
      'a;drop schema public',
      'ä',
      'a'.repeat(64),
    ]) {
      const response = await app.inject(probe(bad));
      expect(response.statusCode, bad).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect((await app.inject(probe())).statusCode).toBe(400);
    expect(find).not.toHaveBeenCalled();
  });

  it('answers 404 for an unknown tenant, and repeated unknown names cost no query (negative cache)', async () => {
    const app = await tenancyApp({ setup: withProbe });
    // Connecting the listener clears the cache (it may have missed notifications): wait for it first.
    await app.registryCache.whenListening();
    const find = vi.spyOn(app.core.registry, 'find');
    const unknown = randomTenantId('nobody');
    const answers = await Promise.all(Array.from({ length: 5 }, () => app.inject(probe(unknown))));
    for (let i = 0; i < 5; i++) await app.inject(probe(unknown));
    for (const response of answers) {
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ status: 404, detail: `tenant "${unknown}" not found` });
    }
    expect(find).toHaveBeenCalledTimes(1);
    expect(app.registryCache.stats().negative).toBe(1);
  });

  it('suspended → 403, provisioning → 503, failed migration → 503 with Retry-After', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const id = randomTenantId();
    await app.core.tenants.create({ name: 'Acme', tenantId: id });
    expect((await app.inject(probe(id))).statusCode).toBe(200);

    await app.core.registry.setStatus(id, 'suspended');
    app.registryCache.invalidate(id);
    const suspended = await app.inject(probe(id));
    expect(suspended.statusCode).toBe(403);
    expect(suspended.json()).toMatchObject({ status: 403, detail: `Tenant "${id}" is suspended` });

    await app.core.registry.setStatus(id, 'provisioning');
    app.registryCache.invalidate(id);
    expect((await app.inject(probe(id))).statusCode).toBe(503);

    await app.core.registry.setStatus(id, 'active');
    await app.core.registry.recordMigration(id, { revision: null, status: 'failed', error: 'boom' });
    app.registryCache.invalidate(id);
    const failed = await app.inject(probe(id));
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['retry-after']).toBe('30');
    expect(failed.headers['content-type']).toContain('application/problem+json');
  });

  it('upgrades a tenant behind head before serving it; concurrent first requests share one upgrade', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const { core } = app;
    const id = randomTenantId();
    await core.tenants.create({ name: 'Behind', tenantId: id });
    const target = { host: DEFAULT_HOST, db: core.hosts.db(), schema: id };
    const down = await core.tenantRunner.downgrade(target, { steps: 1 });
    await core.registry.recordMigration(id, { revision: down.to, status: 'ok', error: null });
    app.registryCache.invalidate(id);

    const upgrade = vi.spyOn(core.tenantRunner, 'upgrade');
    const responses = await Promise.all(Array.from({ length: 6 }, () => app.inject(probe(id))));
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(upgrade).toHaveBeenCalledTimes(1);
    expect((await core.tenantRunner.status(target)).behind).toBe(0);
    expect(await core.registry.find(id)).toMatchObject({
      revision: core.tenantRunner.set.head,
      migration_status: 'ok',
    });
    await app.inject(probe(id));
    expect(upgrade).toHaveBeenCalledTimes(1);
  });

  it('a failing on-demand upgrade answers 503 and records the failure in the registry', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const { core } = app;
    const id = randomTenantId();
    await core.tenants.create({ name: 'Broken', tenantId: id });
    const target = { host: DEFAULT_HOST, db: core.hosts.db(), schema: id };
    await core.tenantRunner.downgrade(target, { to: 'base', allowDataLoss: true });
    await core.registry.recordMigration(id, { revision: null, status: 'ok', error: null });
    // An object in the way of the first revision makes its CREATE TABLE fail.
    await sql`CREATE TABLE ${sql.id(id)}.roles (squatter int)`.execute(core.hosts.db());
    app.registryCache.invalidate(id);

    const response = await app.inject(probe(id));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('30');
    const row = await core.registry.find(id);
    expect(row).toMatchObject({ migration_status: 'failed' });
    expect(row?.migration_error).toContain('already exists');
    // The schema is exactly as before: the failed upgrade rolled back.
    expect((await core.tenantRunner.status(target)).current).toBeNull();
  });

  it('answers 503 + Retry-After when the tenant host or the registry is unreachable', async () => {
    const app = await tenancyApp({
      setup: withProbe,
      env: { TENANT_DATABASE_URLS: '{"gone":"postgres://u:p@127.0.0.1:1/x"}' },
    });
    const id = randomTenantId();
    await app.core.registry.insert({
      tenant_id: id,
      name: 'Far away',
      host: 'gone',
      status: 'active',
      revision: app.core.tenantRunner.set.head,
    });
    const hostDown = await app.inject(probe(id));
    expect(hostDown.statusCode).toBe(503);
    expect(hostDown.headers['retry-after']).toBe('5');

    const offline = await tenancyApp({
      setup: withProbe,
      defaultDatabaseUrl: 'postgres://u:p@127.0.0.1:1/x',
    });
    const registryDown = await offline.inject(probe(randomTenantId()));
    expect(registryDown.statusCode).toBe(503);
    expect(registryDown.headers['retry-after']).toBe('5');
  });

  it('a pooled connection used for tenant A then tenant B never serves A’s rows to B (pool size 1)', async () => {
    const app = await tenancyApp({ setup: withProbe, poolSize: 1 });
    const { core } = app;
    const [a, b] = [randomTenantId('a'), randomTenantId('b')];
    await core.tenants.create({ name: 'A', tenantId: a });
    await core.tenants.create({ name: 'B', tenantId: b });
    await sql`INSERT INTO ${sql.id(a)}.roles (name, title) VALUES ('ONLY_A', 'Only in A')`.execute(
      core.hosts.db(),
    );

    for (let round = 0; round < 5; round++) {
      const [fromA, fromB] = [await app.inject(probe(a)), await app.inject(probe(b))];
      expect(fromA.json().roles).toContain('ONLY_A');
      expect(fromB.json().roles).not.toContain('ONLY_A');
    }
    const mixed = await Promise.all(Array.from({ length: 10 }, (_, i) => app.inject(probe(i % 2 ? a : b))));
    mixed.forEach((response, i) => {
      expect(response.json().tenant).toBe(i % 2 ? a : b);
      expect(response.json().roles.includes('ONLY_A')).toBe(i % 2 === 1);
    });
    // The one connection keeps its default search_path: no session state was left behind.
    const path = await sql<{ search_path: string }>`SHOW search_path`.execute(core.hosts.db());
    expect(path.rows[0]!.search_path).toBe('"$user", public');
    expect(core.hosts.pool().totalCount).toBe(1);
    expect(core.hosts.openPools()).toEqual([DEFAULT_HOST]);
  });

  it('routes outside a tenant scope never resolve a tenant', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const find = vi.spyOn(app.core.registry, 'find');
    expect(
      (await app.inject({ method: 'GET', url: '/health', headers: { tenant: 'nobody' } })).statusCode,
    ).toBe(200);
    expect(find).not.toHaveBeenCalled();
  });
});
