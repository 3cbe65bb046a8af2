import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { ADMIN, SECOND_HOST } from '../helpers/core.ts';
import { randomTenantId, schemaExists, tenancyApp, withProbe } from '../tenancy/helpers.ts';

const probe = (tenant: string) => ({ method: 'GET' as const, url: '/_test/roles', headers: { tenant } });

describe('two database hosts', { timeout: 90_000 }, () => {
  it('places tenants on each host, routes requests there, and fleet migration and drift cover both', async () => {
    const app = await tenancyApp({ secondHost: true, setup: withProbe });
    const { core } = app;
    const [home, away] = [randomTenantId('home'), randomTenantId('away')];

    const created = await Promise.all([
      app.inject({
        method: 'POST',
        url: '/cc/tenants',
        headers: ADMIN,
        payload: { name: 'Home', tenant_id: home },
      }),
      app.inject({
        method: 'POST',
        url: '/cc/tenants',
        headers: ADMIN,
        payload: { name: 'Away', tenant_id: away, host: SECOND_HOST },
      }),
    ]);
    expect(created.map((r) => r.statusCode)).toEqual([201, 201]);
    expect(created[1]!.json().tenant).toMatchObject({ host: SECOND_HOST, status: 'active', behind: 0 });

    const [first, second] = [core.hosts.db(DEFAULT_HOST), core.hosts.db(SECOND_HOST)];
    expect(await schemaExists(first, home)).toBe(true);
    expect(await schemaExists(second, home)).toBe(false);
    expect(await schemaExists(second, away)).toBe(true);
    expect(await schemaExists(first, away)).toBe(false);

    // A decoy schema of the same name on the default host: routing must ignore it.
    await sql`CREATE SCHEMA ${sql.id(away)}`.execute(first);
    await sql`CREATE TABLE ${sql.id(away)}.roles (name text)`.execute(first);
    await sql`INSERT INTO ${sql.id(away)}.roles VALUES ('DECOY')`.execute(first);
    await sql`INSERT INTO ${sql.id(away)}.roles (name, title) VALUES ('ONLY_EU2', 'x')`.execute(second);

    const routedAway = await app.inject(probe(away));
    expect(routedAway.statusCode).toBe(200);
    expect(routedAway.json()).toMatchObject({ host: SECOND_HOST, tenant: away });
    expect(routedAway.json().roles).toContain('ONLY_EU2');
    expect(routedAway.json().roles).not.toContain('DECOY');
    const routedHome = await app.inject(probe(home));
    expect(routedHome.json()).toMatchObject({ host: DEFAULT_HOST });
    expect(routedHome.json().roles).not.toContain('ONLY_EU2');
    expect(core.hosts.openPools().sort()).toEqual([DEFAULT_HOST, SECOND_HOST].sort());
    await sql`DROP SCHEMA ${sql.id(away)} CASCADE`.execute(first);

    for (const id of [home, away]) {
      const down = await app.inject({
        method: 'POST',
        url: `/cc/tenants/${id}/downgrade`,
        headers: ADMIN,
        payload: { steps: 1 },
      });
      expect(down.statusCode).toBe(200);
    }
    const listed = (await app.inject({ method: 'GET', url: '/cc/tenants', headers: ADMIN })).json();
    expect(listed.items.map((t: { behind: number }) => t.behind)).toEqual([1, 1]);

    // Downgraded tenants are pinned: the fleet run names them (an explicit upgrade).
    const started = await app.inject({
      method: 'POST',
      url: '/cc/migrate',
      headers: ADMIN,
      payload: { tenants: [home, away] },
    });
    expect(started.statusCode).toBe(202);
    let job: {
      status: string;
      summary: { upgraded: number };
      results: Array<{ tenant_id: string; host: string }>;
    } = {
      status: 'running',
      summary: { upgraded: 0 },
      results: [],
    };
    await vi.waitFor(
      async () => {
        job = (
          await app.inject({ method: 'GET', url: `/cc/jobs/${started.json().job_id}`, headers: ADMIN })
        ).json();
        expect(job.status).toBe('succeeded');
      },
      { timeout: 15_000, interval: 25 },
    );
    expect(job.summary.upgraded).toBe(2);
    expect(job.results.map((r) => r.host).sort()).toEqual([DEFAULT_HOST, SECOND_HOST].sort());
    for (const [id, db] of [
      [home, first],
      [away, second],
    ] as const) {
      const status = await core.tenantRunner.status({ host: 'x', db, schema: id });
      expect(status.behind).toBe(0);
    }

    const drift = await app.inject({ method: 'GET', url: '/cc/drift', headers: ADMIN });
    expect(drift.json()).toMatchObject({ checked: 2, drifted: 0 });
    const eu2Only = await app.inject({ method: 'GET', url: `/cc/drift?host=${SECOND_HOST}`, headers: ADMIN });
    expect(eu2Only.json()).toMatchObject({ checked: 1, tenants: [{ tenant_id: away, host: SECOND_HOST }] });
    expect((await app.inject({ method: 'GET', url: '/cc/drift?host=mars', headers: ADMIN })).statusCode).toBe(
      400,
    );

    const deleted = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${away}?confirm=${away}`,
      headers: ADMIN,
    });
    expect(deleted.statusCode).toBe(204);
    expect(await schemaExists(second, away)).toBe(false);
    expect(await core.registry.find(away)).toBeUndefined();
  });
});
