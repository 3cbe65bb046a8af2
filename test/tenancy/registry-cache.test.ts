import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import { RegistryCache } from '../../src/tenancy/registry-cache.ts';
import { ADMIN, testCore } from '../helpers/core.ts';
import { randomTenantId, tenancyApp, withProbe } from './helpers.ts';

const probe = (tenant: string) => ({ method: 'GET' as const, url: '/_test/roles', headers: { tenant } });

describe('registry cache', () => {
  it('two app instances on one database: a change made by one is seen by the other through NOTIFY', async () => {
    const core = await testCore();
    const first = await tenancyApp({ setup: withProbe, core });
    // A second process: its own Core (pools) and app on the same database.
    const second = await tenancyApp({ setup: withProbe, database: core.database });
    await Promise.all([first.registryCache.whenListening(), second.registryCache.whenListening()]);

    const id = randomTenantId();
    expect((await second.inject(probe(id))).statusCode).toBe(404); // now negatively cached in `second`
    const created = await first.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'Shared', tenant_id: id },
    });
    expect(created.statusCode).toBe(201);
    expect((await first.inject(probe(id))).statusCode).toBe(200); // own change: seen at once
    await vi.waitFor(async () => expect((await second.inject(probe(id))).statusCode).toBe(200), {
      timeout: 5_000,
      interval: 20,
    });

    await first.core.registry.setStatus(id, 'suspended');
    await vi.waitFor(async () => expect((await second.inject(probe(id))).statusCode).toBe(403), {
      timeout: 5_000,
      interval: 20,
    });

    const deleted = await first.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}?confirm=${id}`,
      headers: ADMIN,
    });
    expect(deleted.statusCode).toBe(204);
    await vi.waitFor(async () => expect((await second.inject(probe(id))).statusCode).toBe(404), {
      timeout: 5_000,
      interval: 20,
    });
  });

  it('reconnects its LISTEN client when the connection drops, and keeps learning changes', async () => {
    const app = await tenancyApp({ setup: withProbe });
    const { core } = app;
    await app.registryCache.whenListening();
    const id = randomTenantId();
    await core.tenants.create({ name: 'Reconnect', tenantId: id });
    expect((await app.inject(probe(id))).statusCode).toBe(200);

    const killed = await sql<{ ok: boolean }>`
      SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = 'tenantry-registry-listener' AND datname = current_database()`.execute(
      core.hosts.db(),
    );
    expect(killed.rows.length).toBe(1);
    await vi.waitFor(() => expect(app.registryCache.stats().listening).toBe(false), { timeout: 5_000 });
    await vi.waitFor(() => expect(app.registryCache.stats().listening).toBe(true), { timeout: 10_000 });

    await core.registry.setStatus(id, 'suspended');
    await vi.waitFor(async () => expect((await app.inject(probe(id))).statusCode).toBe(403), {
      timeout: 5_000,
      interval: 20,
    });
  });

  it('shares one query among concurrent lookups of an id and bounds the negative cache', async () => {
    const core = await testCore();
    const cache = new RegistryCache(core.registry, { negativeMax: 3 });
    const find = vi.spyOn(core.registry, 'find');
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.get('nobody_here')));
    expect(results.every((r) => r === null)).toBe(true);
    expect(find).toHaveBeenCalledTimes(1);

    for (const name of ['n_1', 'n_2', 'n_3', 'n_4']) await cache.get(name);
    expect(cache.stats().negative).toBe(3);
    await cache.get('n_4'); // still cached
    expect(find).toHaveBeenCalledTimes(5);
    await cache.get('nobody_here'); // evicted (oldest) → asked again
    expect(find).toHaveBeenCalledTimes(6);
    await cache.close();
  });

  it('does not store a row read before an invalidation that raced it', async () => {
    const core = await testCore();
    const cache = new RegistryCache(core.registry);
    const id = randomTenantId();
    const pending = cache.get(id);
    cache.invalidate(id); // e.g. a NOTIFY arriving while the query is in flight
    expect(await pending).toBeNull();
    expect(cache.stats().negative).toBe(0);
    await core.tenants.create({ name: 'Late', tenantId: id });
    expect(await cache.get(id)).toMatchObject({ tenantId: id, status: 'active' });
    await cache.close();
  });
});
