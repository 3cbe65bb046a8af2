/**
 * Tenant domains and routing by Host (issue 21): the normal form of a domain, the control center's
 * domain routes, the predecessor's `GET /create?name=a&schema=a&host=a`, and requests that choose their
 * tenant by Host (same answers as with the header, the header wins and must agree, negative cache,
 * LISTEN/NOTIFY between processes, a real socket through `curl --resolve`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { hostDomain, normalizeDomain } from '../../src/tenancy/domain-name.ts';
import { withTenant } from '../../src/tenancy/tenant-plugin.ts';
import { ADMIN, testCore } from '../helpers/core.ts';
import { randomTenantId, tenancyApp } from './helpers.ts';

/** GET /_test/whoami: the tenant chosen for the request, read from its schema (needs no header). */
const whoami: FastifyPluginAsyncTypebox = async (scope) => {
  scope.get('/_test/whoami', async (request) => {
    const roles = await request.tenant.db.selectFrom('roles').select('name').execute();
    return { tenant: request.tenant.id, roles: roles.length };
  });
};
const withWhoami = async (app: App) => {
  await app.register(withTenant(whoami));
};

const ask = (app: App, headers: Record<string, string>) =>
  app.inject({ method: 'GET', url: '/_test/whoami', headers });

async function createTenant(app: App, body: Record<string, unknown>) {
  const response = await app.inject({ method: 'POST', url: '/cc/tenants', headers: ADMIN, payload: body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ tenant: { tenant_id: string; domains: string[] } }>().tenant;
}

describe('domain names', () => {
  it('normalises: lower case, trailing dot, IDNA, full-width letters, a bare label under the base', () => {
    expect(normalizeDomain('Acme.Example.COM.')).toBe('acme.example.com');
    expect(normalizeDomain(' Bäckerei.example ')).toBe('xn--bckerei-5wa.example');
    expect(normalizeDomain('ＡＣＭＥ.example')).toBe('acme.example');
    expect(normalizeDomain('acme', 'tasks.example.com')).toBe('acme.tasks.example.com');
    expect(normalizeDomain('acme')).toBe('acme');
    expect(normalizeDomain('a-1.b2.example')).toBe('a-1.b2.example');
    expect(normalizeDomain(`${'a'.repeat(63)}.example`)).toBe(`${'a'.repeat(63)}.example`);
  });

  it.each([
    ['', 'empty'],
    ['1.2.3.4', 'IP'],
    ['127.1', 'IP'],
    ['0x7f', 'IP'],
    ['::1', 'IP'],
    ['[::1]', 'IP'],
    ['a..b', 'empty label'],
    ['.a.example', 'empty label'],
    ['-a.example', 'RFC 1123'],
    ['a-.example', 'RFC 1123'],
    ['a_b.example', 'RFC 1123'],
    ['a%2eb.example', 'IDNA'],
    ['a b.example', 'IDNA'],
    ['a/b.example', 'IDNA'],
    ['user@a.example', 'IDNA'],
    ['a.example:80', 'IDNA'],
    ['xn--zz.example', 'IDNA'],
    [`${'a'.repeat(64)}.example`, '63'],
    [`${'abcdefghi.'.repeat(25)}example`, '253'],
    ['localhost', 'reserved'],
    ['LOCALHOST.', 'reserved'],
    ["a'; DROP TABLE tenants; --", 'IDNA'],
  ])('refuses %j (%s)', (input, reason) => {
    expect(() => normalizeDomain(input)).toThrow(new RegExp(reason === 'IP' ? 'IP' : reason));
  });

  it('refuses the base domain itself', () => {
    expect(() => normalizeDomain('tasks.example.com', 'tasks.example.com')).toThrow(/base domain/);
  });

  it('reads a Host: port gone, case folded; IPs and junk are no domain (null, never a throw)', () => {
    expect(hostDomain('Acme.Example.com')).toBe('acme.example.com');
    expect(hostDomain('acme.example.com.')).toBe('acme.example.com');
    for (const host of [undefined, '', '127.0.0.1', '[::1]', '10.1', 'a..b', 'a%2eb', 'x'.repeat(300)])
      expect(hostDomain(host)).toBeNull();
  });

  it('TENANT_BASE_DOMAIN is validated and normalised', () => {
    expect(loadConfig({ TENANT_BASE_DOMAIN: 'Tasks.Example.COM.' }).tenantBaseDomain).toBe(
      'tasks.example.com',
    );
    expect(loadConfig({}).tenantBaseDomain).toBeUndefined();
    expect(() => loadConfig({ TENANT_BASE_DOMAIN: '10.0.0.1' })).toThrow(/TENANT_BASE_DOMAIN=.*IP/);
    expect(() => loadConfig({ TENANT_BASE_DOMAIN: 'https://x.example' })).toThrow(/TENANT_BASE_DOMAIN/);
  });
});

describe('control center: tenant domains', () => {
  it('create with domains, add, list, remove; shown in tenant answers and lists', async () => {
    const app = await tenancyApp();
    const id = randomTenantId('dom');
    const tenant = await createTenant(app, { name: 'Acme', tenant_id: id, domains: ['Acme.Example.test'] });
    expect(tenant.domains).toEqual(['acme.example.test']);

    const added = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/domains`,
      headers: ADMIN,
      payload: { domain: 'Bäckerei.example.test' },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json()).toMatchObject({ domain: 'xn--bckerei-5wa.example.test', tenant_id: id });
    const again = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/domains`,
      headers: ADMIN,
      payload: { domain: 'xn--bckerei-5wa.example.test' },
    });
    expect(again.statusCode).toBe(200);

    const listed = await app.inject({ method: 'GET', url: `/cc/tenants/${id}/domains`, headers: ADMIN });
    expect(listed.json().items.map((d: { domain: string }) => d.domain)).toEqual([
      'acme.example.test',
      'xn--bckerei-5wa.example.test',
    ]);
    const shown = await app.inject({ method: 'GET', url: `/cc/tenants/${id}`, headers: ADMIN });
    expect(shown.json().domains).toHaveLength(2);
    const page = await app.inject({ method: 'GET', url: `/cc/tenants?search=${id}`, headers: ADMIN });
    expect(page.json().items[0].domains).toEqual(['acme.example.test', 'xn--bckerei-5wa.example.test']);

    const removed = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}/domains/ACME.example.test`,
      headers: ADMIN,
    });
    expect(removed.statusCode, removed.body).toBe(204);
    const gone = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}/domains/acme.example.test`,
      headers: ADMIN,
    });
    expect(gone.statusCode).toBe(404);
  });

  it('a domain belongs to one tenant: 409 for another, 400 for bad input, 404 for unknown tenants', async () => {
    const app = await tenancyApp();
    const [a, b] = [randomTenantId('dom'), randomTenantId('dom')];
    await createTenant(app, { name: 'A', tenant_id: a, domains: ['shared.example.test'] });
    await createTenant(app, { name: 'B', tenant_id: b });
    const post = (tenant: string, domain: string) =>
      app.inject({
        method: 'POST',
        url: `/cc/tenants/${tenant}/domains`,
        headers: ADMIN,
        payload: { domain },
      });

    expect((await post(b, 'Shared.Example.test.')).statusCode).toBe(409);
    const taken = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'C', tenant_id: randomTenantId('dom'), domains: ['shared.example.test'] },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().detail).toContain('shared.example.test');
    // The refused creation left nothing: the tenant id is free, no schema, no row.
    const tenants = await app.inject({ method: 'GET', url: '/cc/tenants?size=100', headers: ADMIN });
    expect(tenants.json().total).toBe(2);

    for (const bad of ['10.0.0.1', 'localhost', 'a..b', '-x.example', 'a'.repeat(300)]) {
      const response = await post(b, bad);
      expect(response.statusCode, bad).toBe(400);
    }
    expect((await post('nobody_here', 'free.example.test')).statusCode).toBe(404);
    expect((await post('public', 'free.example.test')).statusCode).toBe(400);
    const foreignRemove = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${b}/domains/shared.example.test`,
      headers: ADMIN,
    });
    expect(foreignRemove.statusCode).toBe(404);
    expect((await ask(app, { host: 'shared.example.test' })).statusCode).toBe(404); // no route here: 404 too
  });

  it('30 concurrent claims of one domain by 3 tenants: one owner, the rest 200 (owner) or 409, no 5xx', async () => {
    const app = await tenancyApp();
    const ids = [randomTenantId('dom'), randomTenantId('dom'), randomTenantId('dom')];
    for (const id of ids) await createTenant(app, { name: id, tenant_id: id });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        app.inject({
          method: 'POST',
          url: `/cc/tenants/${ids[i % 3]}/domains`,
          headers: ADMIN,
          payload: { domain: 'race.example.test' },
        }),
      ),
    );
    const codes = answers.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    const owner = answers.find((r) => r.statusCode === 201)!.json().tenant_id;
    answers.forEach((r, i) => {
      expect(r.statusCode, r.body).toBe(ids[i % 3] === owner ? (r.statusCode === 201 ? 201 : 200) : 409);
    });
  });

  it('GET /create?name=a&schema=a&host=a: tenant a with domain a on the default database host', async () => {
    const app = await tenancyApp({ setup: withWhoami });
    const created = await app.inject({
      method: 'GET',
      url: '/create?name=a&schema=a&host=a',
      headers: ADMIN,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().tenant).toMatchObject({ tenant_id: 'a', host: 'default', domains: ['a'] });
    expect((await ask(app, { host: 'a:8000' })).json()).toMatchObject({ tenant: 'a' });

    const unknownDb = await app.inject({
      method: 'GET',
      url: '/create?name=b&schema=b&host=b&db_host=nowhere',
      headers: ADMIN,
    });
    expect(unknownDb.statusCode).toBe(400);
    expect(unknownDb.json().detail).toContain('nowhere');
    const badDomain = await app.inject({
      method: 'GET',
      url: '/create?name=b&schema=b&host=1.2.3.4',
      headers: ADMIN,
    });
    expect(badDomain.statusCode).toBe(400);
  });

  it('with TENANT_BASE_DOMAIN a bare label becomes a subdomain of it', async () => {
    const app = await tenancyApp({ setup: withWhoami, env: { TENANT_BASE_DOMAIN: 'tasks.example.test' } });
    const id = randomTenantId('dom');
    const created = await app.inject({
      method: 'GET',
      url: `/create?name=Acme&schema=${id}&host=acme`,
      headers: ADMIN,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().tenant.domains).toEqual(['acme.tasks.example.test']);
    expect((await ask(app, { host: 'acme.tasks.example.test' })).json()).toMatchObject({ tenant: id });
    // The bare label alone is not the domain, and the base domain is not a tenant's.
    expect((await ask(app, { host: 'acme' })).statusCode).toBe(400);
    const base = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/domains`,
      headers: ADMIN,
      payload: { domain: 'tasks.example.test' },
    });
    expect(base.statusCode).toBe(400);
  });
});

describe('routing by Host', () => {
  it('no header: the Host picks the tenant (port and case ignored); other Hosts behave as before', async () => {
    const app = await tenancyApp({ setup: withWhoami });
    const id = randomTenantId('dom');
    await createTenant(app, { name: 'Acme', tenant_id: id, domains: ['acme.example.test'] });
    for (const host of ['acme.example.test', 'ACME.example.test:8443', 'acme.example.test.']) {
      const response = await ask(app, { host });
      expect(response.statusCode, host).toBe(200);
      expect(response.json()).toEqual({ tenant: id, roles: 3 });
    }
    for (const host of ['localhost:8000', '127.0.0.1:8000', 'other.example.test', '[::1]:8000']) {
      const response = await ask(app, { host });
      expect(response.statusCode, host).toBe(400);
      expect(response.json().detail).toBe('The "tenant" header is required');
    }
    // The header still works on any Host, and agrees with the tenant's own domain.
    expect((await ask(app, { host: 'localhost', tenant: id })).json().tenant).toBe(id);
    expect((await ask(app, { host: 'acme.example.test', tenant: id })).json().tenant).toBe(id);
  });

  it('header of A + Host of B → 400 before the tenant is read; a bad header is 400 whatever the Host', async () => {
    const app = await tenancyApp({ setup: withWhoami });
    const [a, b] = [randomTenantId('dom'), randomTenantId('dom')];
    await createTenant(app, { name: 'A', tenant_id: a, domains: ['a.example.test'] });
    await createTenant(app, { name: 'B', tenant_id: b, domains: ['b.example.test'] });
    const lookupsBefore = app.registryCache.stats().lookups;
    app.registryCache.clear();
    const mixed = await ask(app, { host: 'b.example.test', tenant: a });
    expect(mixed.statusCode).toBe(400);
    expect(mixed.json().detail).toContain('different tenant than the domain "b.example.test"');
    expect(mixed.body).not.toContain(b);
    // Not even A's registry row was read.
    expect(app.registryCache.stats().lookups).toBe(lookupsBefore);
    expect((await ask(app, { host: 'b.example.test', tenant: 'Robert"); DROP' })).statusCode).toBe(400);
  });

  it('suspended, being deleted, failed migration, deleted: the same answers by Host as by header', async () => {
    const app = await tenancyApp({ setup: withWhoami });
    const id = randomTenantId('dom');
    await createTenant(app, { name: 'Acme', tenant_id: id, domains: ['acme.example.test'] });
    const both = async () => {
      app.registryCache.invalidate(id);
      const [byHeader, byHost] = [
        await ask(app, { tenant: id }),
        await ask(app, { host: 'acme.example.test' }),
      ];
      expect(byHost.statusCode).toBe(byHeader.statusCode);
      expect(byHost.json()).toEqual(byHeader.json());
      expect(byHost.headers['retry-after']).toBe(byHeader.headers['retry-after']);
      return byHost.statusCode;
    };
    await app.core.registry.setStatus(id, 'suspended');
    expect(await both()).toBe(403);
    await app.core.registry.setStatus(id, 'deleting');
    expect(await both()).toBe(404);
    await app.core.registry.setStatus(id, 'active');
    await app.core.registry.recordMigration(id, { revision: null, status: 'failed', error: 'boom' });
    expect(await both()).toBe(503);

    // Deleted: its domains go with it, so the Host is no tenant's any more and can be claimed again.
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}?confirm=${id}`,
      headers: ADMIN,
    });
    expect(deleted.statusCode).toBe(204);
    expect((await ask(app, { tenant: id })).statusCode).toBe(404);
    expect((await ask(app, { host: 'acme.example.test', tenant: id })).statusCode).toBe(404);
    expect((await ask(app, { host: 'acme.example.test' })).statusCode).toBe(400);
    const next = randomTenantId('dom');
    await createTenant(app, { name: 'Next', tenant_id: next, domains: ['acme.example.test'] });
    expect((await ask(app, { host: 'acme.example.test' })).json().tenant).toBe(next);
  });

  it('unknown Hosts are negative-cached: 20 requests, one lookup; an added domain is seen at once', async () => {
    const app = await tenancyApp({ setup: withWhoami });
    const id = randomTenantId('dom');
    await createTenant(app, { name: 'Acme', tenant_id: id });
    const before = app.tenantDomains.stats().lookups;
    for (let i = 0; i < 20; i++)
      expect((await ask(app, { host: 'later.example.test' })).statusCode).toBe(400);
    // IP literals never reach the database at all.
    for (let i = 0; i < 5; i++) await ask(app, { host: `10.0.0.${i}` });
    expect(app.tenantDomains.stats().lookups - before).toBe(1);
    const added = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/domains`,
      headers: ADMIN,
      payload: { domain: 'later.example.test' },
    });
    expect(added.statusCode).toBe(201);
    expect((await ask(app, { host: 'later.example.test' })).json().tenant).toBe(id);
    await app.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}/domains/later.example.test`,
      headers: ADMIN,
    });
    expect((await ask(app, { host: 'later.example.test' })).statusCode).toBe(400);
  });

  it("another process's domain changes arrive through LISTEN/NOTIFY (positive and negative entries)", async () => {
    const core = await testCore();
    const [writer, reader] = [
      await tenancyApp({ core, setup: withWhoami }),
      await tenancyApp({ core, setup: withWhoami }),
    ];
    await reader.registryCache.whenListening();
    const id = randomTenantId('dom');
    await createTenant(writer, { name: 'Acme', tenant_id: id });
    expect((await ask(reader, { host: 'notify.example.test' })).statusCode).toBe(400); // negative-cached
    const post = await writer.inject({
      method: 'POST',
      url: `/cc/tenants/${id}/domains`,
      headers: ADMIN,
      payload: { domain: 'notify.example.test' },
    });
    expect(post.statusCode).toBe(201);
    await expect.poll(async () => (await ask(reader, { host: 'notify.example.test' })).statusCode).toBe(200);
    await writer.inject({
      method: 'DELETE',
      url: `/cc/tenants/${id}/domains/notify.example.test`,
      headers: ADMIN,
    });
    await expect.poll(async () => (await ask(reader, { host: 'notify.example.test' })).statusCode).toBe(400);
  });

  it('through a real socket: curl --resolve acme.example.test:<port>:127.0.0.1', async () => {
    const app = await tenancyApp({ setup: withWhoami });
    const id = randomTenantId('dom');
    await createTenant(app, { name: 'Acme', tenant_id: id, domains: ['acme.example.test'] });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = new URL(address).port;
    const curl = (host: string) =>
      promisify(execFile)('curl', [
        '-sS',
        '--resolve',
        `${host}:${port}:127.0.0.1`,
        `http://${host}:${port}/_test/whoami`,
        '-w',
        '\n%{http_code}',
      ]);
    const { stdout } = await curl('acme.example.test');
    const [body, code] = stdout.split('\n');
    expect(code).toBe('200');
    expect(JSON.parse(body!)).toEqual({ tenant: id, roles: 3 });
    const other = await curl('other.example.test');
    expect(other.stdout.split('\n')[1]).toBe('400');
  });
});

describe('domains and database hosts', () => {
  it('/create?…&host=x&db_host=eu2: the tenant on the second server, its domain in the registry', async () => {
    const app = await tenancyApp({ setup: withWhoami, secondHost: true });
    const id = randomTenantId('far');
    const created = await app.inject({
      method: 'GET',
      url: `/create?name=Far&schema=${id}&host=far.example.test&db_host=eu2`,
      headers: ADMIN,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().tenant).toMatchObject({
      tenant_id: id,
      host: 'eu2',
      domains: ['far.example.test'],
    });
    expect((await ask(app, { host: 'far.example.test' })).json()).toEqual({ tenant: id, roles: 3 });

    // A taken domain refuses the whole cross-host creation: no registry row is left behind.
    const other = randomTenantId('far');
    const taken = await app.inject({
      method: 'GET',
      url: `/create?name=Other&schema=${other}&host=far.example.test&db_host=eu2`,
      headers: ADMIN,
    });
    expect(taken.statusCode).toBe(409);
    expect(await app.core.registry.find(other)).toBeUndefined();
  });

  it('the registry unreachable: a request by Host answers 503 + Retry-After, like one by header', async () => {
    const offline = await tenancyApp({
      setup: withWhoami,
      defaultDatabaseUrl: 'postgres://u:p@127.0.0.1:1/x',
    });
    const choices: Array<Record<string, string>> = [
      { host: 'acme.example.test' },
      { tenant: randomTenantId() },
    ];
    for (const headers of choices) {
      const response = await ask(offline, headers);
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
    }
  });
});
