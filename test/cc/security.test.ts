import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { ADMIN } from '../helpers/core.ts';
import { randomTenantId, schemaExists, tenancyApp, tenantSchemas } from '../tenancy/helpers.ts';

type Method = 'GET' | 'POST' | 'DELETE';
interface RouteCase {
  method: Method;
  url: (id: string) => string;
  payload?: (id: string) => object;
}

const SOME_ID = 'some_tenant';
/** Every control center route and alias; `id` is placed where the route takes a tenant id. */
const ROUTES: RouteCase[] = [
  { method: 'GET', url: () => '/cc/tenants' },
  { method: 'POST', url: () => '/cc/tenants', payload: (id) => ({ name: 'X', tenant_id: id }) },
  { method: 'GET', url: (id) => `/cc/tenants/${encodeURIComponent(id)}` },
  { method: 'POST', url: (id) => `/cc/tenants/${encodeURIComponent(id)}/migrate`, payload: () => ({}) },
  {
    method: 'POST',
    url: (id) => `/cc/tenants/${encodeURIComponent(id)}/downgrade`,
    payload: () => ({ steps: 1 }),
  },
  {
    method: 'DELETE',
    url: (id) => `/cc/tenants/${encodeURIComponent(id)}?confirm=${encodeURIComponent(id)}`,
  },
  { method: 'POST', url: () => '/cc/migrate', payload: (id) => ({ tenants: [id] }) },
  { method: 'GET', url: () => '/cc/jobs/00000000-0000-4000-8000-000000000000' },
  { method: 'GET', url: () => '/cc/drift' },
  { method: 'GET', url: (id) => `/create?name=X&schema=${encodeURIComponent(id)}` },
  { method: 'GET', url: (id) => `/upgrade?schema=${encodeURIComponent(id)}` },
  { method: 'GET', url: () => '/cc/' },
  { method: 'POST', url: () => '/cc/', payload: (id) => ({ tenants: [id] }) },
  { method: 'POST', url: (id) => `/cc/${encodeURIComponent(id)}`, payload: () => ({}) },
  { method: 'DELETE', url: (id) => `/cc/${encodeURIComponent(id)}?confirm=${encodeURIComponent(id)}` },
];
const TAKES_ID = ROUTES.filter(
  (route) => route.url('x_marker').includes('x_marker') || route.payload?.('x_marker'),
);

const BAD_IDS = [
  '../x',
  'public',
  'pg_x',
  'a;drop schema public',
  'a'.repeat(64),
  'Acme',
  '',
  'äbc',
  'информация',
  'information_schema',
  'a b',
  '1abc',
];

const send = (app: App, route: RouteCase, id: string, headers: Record<string, string>) =>
  app.inject({ method: route.method, url: route.url(id), headers, payload: route.payload?.(id) });

async function snapshot(app: App) {
  const tenants = await sql<{ n: number }>`SELECT count(*)::int AS n FROM public.tenants`.execute(
    app.core.hosts.db(),
  );
  return { rows: tenants.rows[0]!.n, schemas: await tenantSchemas(app.core.hosts.db()) };
}

describe('control center security', () => {
  it('every route answers 401 without a token and with a wrong one', async () => {
    const app = await tenancyApp();
    const wrong: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-token-wrong-token-0000' },
      { authorization: `Bearer ${ADMIN.authorization.slice(7)}x` },
      { authorization: ADMIN.authorization.replace('Bearer ', 'Basic ') },
      { authorization: 'Bearer' },
    ];
    for (const route of ROUTES) {
      for (const headers of wrong) {
        const response = await send(app, route, SOME_ID, headers);
        expect(response.statusCode, `${route.method} ${route.url(SOME_ID)} ${JSON.stringify(headers)}`).toBe(
          401,
        );
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.headers['www-authenticate']).toBe('Bearer');
      }
    }
    expect((await snapshot(app)).rows).toBe(0);
  });

  it('bad tenant ids answer 400 on every route that takes one, and nothing is created', async () => {
    const app = await tenancyApp();
    const before = await snapshot(app);
    expect(TAKES_ID.length).toBeGreaterThanOrEqual(11);
    for (const route of TAKES_ID) {
      // An empty path segment is another route (`/cc/tenants/` is the list), so '' is tried only where
      // the id travels in the query or body; the other ids are tried everywhere.
      const inPath = route.url('x_marker').split('?')[0]!.includes('x_marker');
      for (const bad of BAD_IDS.filter((id) => id !== '' || !inPath)) {
        const response = await send(app, route, bad, ADMIN);
        expect(response.statusCode, `${route.method} ${route.url(bad)}`).toBe(400);
        expect(response.headers['content-type']).toContain('application/problem+json');
      }
    }
    expect(await snapshot(app)).toEqual(before);
    expect(await schemaExists(app.core.hosts.db(), 'public')).toBe(true);
  });

  it('the same tenant created twice concurrently: one 201, one 409, one complete schema', async () => {
    const app = await tenancyApp();
    for (let round = 0; round < 3; round++) {
      const id = randomTenantId('race');
      const responses = await Promise.all([
        app.inject({
          method: 'POST',
          url: '/cc/tenants',
          headers: ADMIN,
          payload: { name: 'A', tenant_id: id },
        }),
        app.inject({ method: 'GET', url: `/create?name=B&schema=${id}`, headers: ADMIN }),
      ]);
      expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409]);
      const conflict = responses.find((r) => r.statusCode === 409)!;
      expect(conflict.json()).toMatchObject({ status: 409, detail: `tenant "${id}" already exists` });
      const status = await app.core.tenantRunner.status({
        host: 'default',
        db: app.core.hosts.db(),
        schema: id,
      });
      expect(status).toMatchObject({ exists: true, behind: 0, current: app.core.tenantRunner.set.head });
      expect((await app.core.registry.list({ tenants: [id] })).length).toBe(1);
    }
  });
});
