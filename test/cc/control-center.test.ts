import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.ts';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { openCore } from '../../src/core.ts';
import { ADMIN, testCore } from '../helpers/core.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { NO_OVERLOAD_CHECKS, randomTenantId, schemaExists, tenancyApp } from '../tenancy/helpers.ts';

async function waitForJob(app: App, jobId: string) {
  let job: { status: string } & Record<string, unknown> = { status: 'running' };
  await vi.waitFor(
    async () => {
      job = (await app.inject({ method: 'GET', url: `/cc/jobs/${jobId}`, headers: ADMIN })).json();
      expect(['queued', 'running']).not.toContain(job.status);
    },
    { timeout: 15_000, interval: 25 },
  );
  return job;
}

describe('control center: tenant lifecycle', () => {
  it('create → list → show → downgrade → dry run → migrate → delete', async () => {
    const app = await tenancyApp();
    const { core } = app;
    const head = core.tenantRunner.set.head;
    const id = randomTenantId();

    const created = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'Acme Corp', tenant_id: id },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().tenant).toMatchObject({
      tenant_id: id,
      name: 'Acme Corp',
      host: 'default',
      status: 'active',
      revision: head,
      head,
      behind: 0,
      migration_status: 'ok',
    });
    expect(created.json().migration.steps.map((s: { revision: string }) => s.revision)).toEqual(
      core.tenantRunner.set.migrations.map((m) => m.revision),
    );

    const list = await app.inject({ method: 'GET', url: '/cc/tenants?size=10', headers: ADMIN });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ total: 1, page: 1, size: 10, pages: 1 });
    expect(list.json().items[0]).toMatchObject({ tenant_id: id, behind: 0 });

    const shown = await app.inject({ method: 'GET', url: `/cc/tenants/${id}`, headers: ADMIN });
    expect(shown.statusCode).toBe(200);
    expect(shown.json().history).toHaveLength(core.tenantRunner.set.migrations.length);
    expect(
      shown
        .json()
        .history.every((h: { applied: boolean; checksum_ok: boolean }) => h.applied && h.checksum_ok),
    ).toBe(true);

    const down = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/downgrade`,
      headers: ADMIN,
      payload: { steps: 1 },
    });
    expect(down.statusCode).toBe(200);
    expect(down.json()).toMatchObject({ tenant_id: id, dry_run: false, from: head });
    expect(down.json().steps).toHaveLength(1);
    const afterDown = (await app.inject({ method: 'GET', url: `/cc/tenants/${id}`, headers: ADMIN })).json();
    // Downgraded on purpose: pinned (no automatic upgrade) until an explicit migrate.
    expect(afterDown).toMatchObject({ behind: 1, revision: down.json().to, pinned: true });
    expect(afterDown.history.at(-1)).toMatchObject({ applied: false, applied_at: null });

    const dry = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/migrate`,
      headers: ADMIN,
      payload: { dry_run: true },
    });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({ dry_run: true, to: head });
    expect(dry.json().steps).toHaveLength(1);
    // Nothing changed: the schema and the registry are still one revision behind.
    const target = { host: 'default', db: core.hosts.db(), schema: id };
    expect((await core.tenantRunner.status(target)).behind).toBe(1);
    expect((await core.registry.find(id))?.revision).toBe(down.json().to);

    const migrated = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/migrate`,
      headers: ADMIN,
      payload: {},
    });
    expect(migrated.statusCode).toBe(200);
    expect(migrated.json()).toMatchObject({ dry_run: false, to: head });
    expect((await core.registry.find(id))?.revision).toBe(head);
    const again = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/migrate`,
      headers: ADMIN,
      payload: {},
    });
    expect(again.json().steps).toEqual([]);

    const refused = await app.inject({ method: 'DELETE', url: `/cc/tenants/${id}`, headers: ADMIN });
    expect(refused.statusCode).toBe(400);
    const wrongConfirm = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}?confirm=x${id}`,
      headers: ADMIN,
    });
    expect(wrongConfirm.statusCode).toBe(400);
    expect(await schemaExists(core.hosts.db(), id)).toBe(true);

    const deleted = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}?confirm=${id}`,
      headers: ADMIN,
    });
    expect(deleted.statusCode).toBe(204);
    expect(await schemaExists(core.hosts.db(), id)).toBe(false);
    expect(await core.registry.find(id)).toBeUndefined();
    expect((await app.inject({ method: 'GET', url: `/cc/tenants/${id}`, headers: ADMIN })).statusCode).toBe(
      404,
    );
    expect(
      (await app.inject({ method: 'DELETE', url: `/cc/tenants/${id}?confirm=${id}`, headers: ADMIN }))
        .statusCode,
    ).toBe(404);
  });

  it('derives a tenant id from the name; refuses unknown hosts, bad revisions and unknown fields', async () => {
    const app = await tenancyApp();
    const derived = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'Zażółć Gęślą Jaźń GmbH' },
    });
    expect(derived.statusCode).toBe(201);
    expect(derived.json().tenant.tenant_id).toMatch(/^zazolc_gesla_jazn_gmbh_[0-9a-f]{12}$/);

    const badHost = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'X', tenant_id: randomTenantId(), host: 'nowhere' },
    });
    expect(badHost.statusCode).toBe(400);
    expect(badHost.json().detail).toContain('nowhere');

    const extra = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'X', owner: 'me' },
    });
    expect(extra.statusCode).toBe(400);

    const id = derived.json().tenant.tenant_id;
    const badTarget = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/migrate`,
      headers: ADMIN,
      payload: { target: 'zzzz' },
    });
    expect(badTarget.statusCode).toBe(400);
    const tooFar = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/downgrade`,
      headers: ADMIN,
      payload: { steps: 99 },
    });
    expect(tooFar.statusCode).toBe(400);
    const unknown = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${randomTenantId()}/migrate`,
      headers: ADMIN,
      payload: {},
    });
    expect(unknown.statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/cc/tenants?size=0', headers: ADMIN })).statusCode).toBe(
      400,
    );
  });

  it('migrates the fleet as a background job with progress and per-tenant results', async () => {
    const app = await tenancyApp();
    const { core } = app;
    const ids = [randomTenantId('f'), randomTenantId('f'), randomTenantId('f')];
    for (const id of ids) await core.tenants.create({ name: id, tenantId: id });
    for (const id of ids.slice(0, 2)) {
      await app.inject({
        method: 'POST',
        url: `/cc/tenants/${id}/downgrade`,
        headers: ADMIN,
        payload: { steps: 1 },
      });
    }

    // Downgraded tenants are pinned: a fleet run upgrades them only when it names them.
    const dry = await app.inject({
      method: 'POST',
      url: '/cc/migrate',
      headers: ADMIN,
      payload: { dry_run: true, tenants: ids },
    });
    expect(dry.statusCode).toBe(202);
    const dryJob = await waitForJob(app, dry.json().job_id);
    expect(dryJob).toMatchObject({
      status: 'succeeded',
      summary: { total: 3, would_upgrade: 2, up_to_date: 1 },
    });

    const started = await app.inject({
      method: 'POST',
      url: '/cc/migrate',
      headers: ADMIN,
      payload: { concurrency: 2, tenants: ids },
    });
    expect(started.statusCode).toBe(202);
    const job = await waitForJob(app, started.json().job_id);
    expect(job).toMatchObject({
      status: 'succeeded',
      progress: { done: 3, total: 3 },
      summary: { total: 3, upgraded: 2, up_to_date: 1, failed: 0 },
    });
    expect((job.results as Array<{ tenant_id: string }>).map((r) => r.tenant_id).sort()).toEqual(
      [...ids].sort(),
    );
    for (const id of ids) expect((await core.registry.find(id))?.revision).toBe(core.tenantRunner.set.head);

    expect(
      (await app.inject({ method: 'POST', url: '/cc/migrate', headers: ADMIN, payload: { target: 'nope' } }))
        .statusCode,
    ).toBe(400);
    expect(
      (
        await app.inject({
          method: 'GET',
          url: '/cc/jobs/00000000-0000-4000-8000-000000000000',
          headers: ADMIN,
        })
      ).statusCode,
    ).toBe(404);
  });

  it('a tenant failing in a fleet job is reported and recorded; only_failed retries just it', async () => {
    const app = await tenancyApp();
    const { core } = app;
    const [good, bad] = [randomTenantId('good'), randomTenantId('bad')];
    const all = core.tenantRunner.set.migrations.length;
    for (const [id, steps] of [
      [good, 1],
      [bad, all],
    ] as const) {
      await core.tenants.create({ name: id, tenantId: id });
      await app.inject({
        method: 'POST',
        url: `/cc/tenants/${id}/downgrade`,
        headers: ADMIN,
        // Reverting the first revision drops its seeded roles and permissions: confirmed.
        payload: { steps, confirm: id },
      });
    }
    // Squat on the first revision's table so `bad` fails to migrate (and rolls back).
    await sql`CREATE TABLE ${sql.id(bad)}.roles (squatter int)`.execute(core.hosts.db());

    const started = await app.inject({
      method: 'POST',
      url: '/cc/migrate',
      headers: ADMIN,
      payload: { tenants: [good, bad] },
    });
    const job = await waitForJob(app, started.json().job_id);
    expect(job).toMatchObject({ status: 'failed', summary: { upgraded: 1, failed: 1 } });
    const failed = (job.results as Array<{ tenant_id: string; status: string; error: string | null }>).find(
      (r) => r.tenant_id === bad,
    );
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed?.error).toContain('already exists');
    expect(await core.registry.find(bad)).toMatchObject({ migration_status: 'failed' });
    const listed = (
      await app.inject({ method: 'GET', url: `/cc/tenants?search=${bad}`, headers: ADMIN })
    ).json();
    expect(listed.items[0]).toMatchObject({ tenant_id: bad, migration_status: 'failed', behind: all });
    expect(listed.items[0].migration_error).toContain('already exists');

    await sql`DROP TABLE ${sql.id(bad)}.roles`.execute(core.hosts.db());
    const retry = await app.inject({
      method: 'POST',
      url: '/cc/migrate',
      headers: ADMIN,
      payload: { only_failed: true, tenants: [good, bad] },
    });
    expect(await waitForJob(app, retry.json().job_id)).toMatchObject({
      status: 'succeeded',
      summary: { total: 1, upgraded: 1 },
    });
    expect(await core.registry.find(bad)).toMatchObject({
      migration_status: 'ok',
      revision: core.tenantRunner.set.head,
    });
  });

  it('reports schema drift', async () => {
    const app = await tenancyApp();
    const id = randomTenantId();
    await app.core.tenants.create({ name: 'Drift', tenantId: id });
    const clean = await app.inject({ method: 'GET', url: '/cc/drift', headers: ADMIN });
    expect(clean.statusCode).toBe(200);
    expect(clean.json(), JSON.stringify(clean.json().tenants)).toMatchObject({ checked: 1, drifted: 0 });
    await app.core.hosts
      .db()
      .schema.withSchema(id)
      .createTable('manual_change')
      .addColumn('x', 'integer')
      .execute();
    const drifted = (await app.inject({ method: 'GET', url: '/cc/drift', headers: ADMIN })).json();
    expect(drifted).toMatchObject({ checked: 1, drifted: 1 });
    expect(drifted.tenants[0].unexpected.join('\n')).toContain('manual_change');
  });
});

describe('control center: predecessor aliases behave like the canonical routes', () => {
  it('GET /create, GET /upgrade, GET /cc/, POST /cc/, POST /cc/{id}, DELETE /cc/{id}', async () => {
    const app = await tenancyApp();
    const { core } = app;
    const id = randomTenantId('legacy');
    const created = await app.inject({
      method: 'GET',
      url: `/create?name=Legacy&schema=${id}&db_host=default`,
      headers: ADMIN,
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().tenant).toMatchObject({ tenant_id: id, status: 'active', behind: 0 });
    expect(
      (await app.inject({ method: 'GET', url: `/create?name=Legacy&schema=${id}`, headers: ADMIN }))
        .statusCode,
    ).toBe(409);
    expect(
      (
        await app.inject({
          method: 'GET',
          // host= is the tenant's domain (issue 21); db_host= names the database server.
          url: `/create?name=L&schema=${randomTenantId()}&db_host=a`,
          headers: ADMIN,
        })
      ).statusCode,
    ).toBe(400);

    const canonicalList = (await app.inject({ method: 'GET', url: '/cc/tenants', headers: ADMIN })).json();
    for (const url of ['/cc/', '/cc']) {
      const list = await app.inject({ method: 'GET', url, headers: ADMIN });
      expect(list.statusCode).toBe(200);
      expect(list.json()).toEqual(canonicalList);
    }

    await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/downgrade`,
      headers: ADMIN,
      payload: { steps: 1 },
    });
    const dry = await app.inject({
      method: 'GET',
      url: `/upgrade?schema=${id}&dry_run=true`,
      headers: ADMIN,
    });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({ tenant_id: id, dry_run: true });
    expect(dry.json().steps).toHaveLength(1);
    const upgraded = await app.inject({ method: 'GET', url: `/upgrade?schema=${id}`, headers: ADMIN });
    expect(upgraded.json()).toMatchObject({ dry_run: false, to: core.tenantRunner.set.head });
    expect(upgraded.json().steps).toHaveLength(1);

    await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/downgrade`,
      headers: ADMIN,
      payload: { steps: 1 },
    });
    const one = await app.inject({ method: 'POST', url: `/cc/${id}`, headers: ADMIN }); // no body, as before
    expect(one.statusCode).toBe(200);
    expect(one.json().steps).toHaveLength(1);

    const all = await app.inject({ method: 'POST', url: '/cc/', headers: ADMIN });
    expect(all.statusCode).toBe(202);
    expect(await waitForJob(app, all.json().job_id)).toMatchObject({ status: 'succeeded' });

    expect((await app.inject({ method: 'DELETE', url: `/cc/${id}`, headers: ADMIN })).statusCode).toBe(400);
    expect(
      (await app.inject({ method: 'DELETE', url: `/cc/${id}?confirm=${id}`, headers: ADMIN })).statusCode,
    ).toBe(204);
    expect(await core.registry.find(id)).toBeUndefined();
    expect(await schemaExists(core.hosts.db(), id)).toBe(false);
  });
});

describe('control center OpenAPI', () => {
  it('documents every route with an operationId and the shared problem schema', async () => {
    const app = await tenancyApp();
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    type Documented = {
      operationId?: string;
      responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
    };
    const documented = Object.entries(doc.paths as Record<string, Record<string, Documented>>)
      .filter(([path]) => path.startsWith('/cc') || path === '/create' || path === '/upgrade')
      .flatMap(([, methods]) => Object.values(methods));
    const operations = documented.map((operation) => operation.operationId);
    // Every error answer of the control center is the shared problem document.
    const notProblem = documented.flatMap((operation) =>
      Object.entries(operation.responses ?? {})
        .filter(([status]) => /^[45]\d\d$/.test(status))
        .filter(([, response]) => {
          const media = Object.values(response.content ?? {});
          return media.length === 0 || media.some((m) => m.schema?.$ref !== '#/components/schemas/Problem');
        })
        .map(([status]) => `${operation.operationId} ${status}`),
    );
    expect(notProblem).toEqual([]);
    expect(
      documented.every((operation) => Object.keys(operation.responses ?? {}).some((s) => /^4/.test(s))),
    ).toBe(true);
    expect(operations.sort()).toEqual(
      [
        'cc.drift',
        'cc.fleet.migrate',
        'cc.hosts.list',
        'cc.jobs.cancel',
        'cc.jobs.list',
        'cc.jobs.resume',
        'cc.jobs.show',
        'cc.legacy.create',
        'cc.legacy.delete',
        'cc.legacy.list',
        'cc.legacy.migrate',
        'cc.legacy.migrateAll',
        'cc.legacy.upgrade',
        'cc.tenants.create',
        'cc.tenants.delete',
        'cc.tenants.domains.add',
        'cc.tenants.domains.list',
        'cc.tenants.domains.remove',
        'cc.tenants.downgrade',
        'cc.tenants.list',
        'cc.tenants.migrate',
        'cc.tenants.move',
        'cc.tenants.show',
      ].sort(),
    );
  });
});

describe('control center token', () => {
  it('development without CC_ADMIN_TOKEN: generates one, logs it once, and accepts only it', async () => {
    const database = await createTestDatabase();
    const core = await openCore(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'warn' }), {
      defaultDatabaseUrl: database.url,
    });
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = await buildApp(core, { logger: { level: 'warn', stream }, pressure: NO_OVERLOAD_CHECKS });
    try {
      await app.ready();
      const logged = lines.map((line) => JSON.parse(line)).filter((entry) => entry.cc_admin_token);
      expect(logged).toHaveLength(1);
      const token = logged[0].cc_admin_token as string;
      expect(token.length).toBeGreaterThanOrEqual(32);
      const ok = await app.inject({
        method: 'GET',
        url: '/cc/tenants',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/cc/tenants', headers: ADMIN })).statusCode).toBe(401);
    } finally {
      await app.close();
      await core.close();
    }
  });

  it('production without CC_ADMIN_TOKEN: /cc and the aliases are disabled (403)', async () => {
    const core = await testCore({ env: { NODE_ENV: 'production', CC_ADMIN_TOKEN: '' } });
    const app = await buildApp(core, { logger: false, pressure: NO_OVERLOAD_CHECKS });
    try {
      for (const url of ['/cc/tenants', '/cc/', `/create?name=x&schema=${randomTenantId()}`]) {
        const response = await app.inject({ method: 'GET', url, headers: ADMIN });
        expect(response.statusCode, url).toBe(403);
        expect(response.json().detail).toContain('CC_ADMIN_TOKEN');
      }
      expect(await core.registry.list()).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
