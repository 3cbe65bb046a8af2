/**
 * Tenant isolation matrix (SPEC 11, issue 9): EVERY route of `app.tenantRoutes` (the table the auth
 * guard records, so a route added later is covered without touching this file) is called with
 *  - the token of tenant A, header A, and ids of tenant B's objects → 404, and nothing changes anywhere;
 *  - the token of tenant A with header B → 401;
 *  - no token → 401 (except routes declared public);
 *  - a MEMBER of B lacking the route's permission → 403 naming it.
 * Path parameters are filled from one map (param name or collection → an id of B); a route whose
 * parameter has no source fails the first test. Bodies come from the route's OpenAPI schema, so a 404
 * is never masked by a validation error.
 */
import type { InjectOptions } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TenantRouteInfo } from '../../src/auth/auth-plugin.ts';
import { AUTHENTICATED, PUBLIC } from '../../src/auth/permissions.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { bodyExample, ISOLATION_ENV, seedIntegrations } from './isolation-ids.ts';
import {
  concreteUrl,
  databaseSnapshot,
  type Operation,
  openApi,
  operationFor,
  operations,
  pathParams,
  seedOneOfEach,
} from './support.ts';

const context = await usersApp({ env: { ...ISOLATION_ENV } });
const { app } = context;
let a: TenantUsers;
let b: TenantUsers;
/** Ids of tenant B's objects, keyed by collection (or parameter name). */
let idsOfB: Record<string, string>;
let ops: Operation[];

beforeAll(async () => {
  [a, b] = await Promise.all([tenantWithUsers(context), tenantWithUsers(context)]);
  const [seededB, integrationsOfB] = await Promise.all([
    seedOneOfEach(app, b),
    seedIntegrations(app, b),
    seedOneOfEach(app, a),
    seedIntegrations(app, a),
  ]);
  idsOfB = { ...seededB, ...integrationsOfB };
  ops = operations(await openApi(app));
});

const key = (route: TenantRouteInfo) => `${route.method} ${route.url}`;

/** A request to `route` that only access (tenant, token, ids) can refuse: the body is schema-valid. */
function requestFor(route: TenantRouteInfo, headers: Record<string, string>): InjectOptions {
  const op = operationFor(ops, route.method, route.url);
  const request: InjectOptions = {
    method: route.method as InjectOptions['method'],
    url: concreteUrl(route.url, idsOfB),
    headers,
  };
  if (op.bodyType === 'application/json') request.payload = bodyExample(op.body ?? {}) as object;
  else if (op.bodyType === 'text/csv') {
    request.payload = 'email;first_name;last_name\r\nprobe@example.com;P;Q\r\n';
    request.headers = { ...headers, 'content-type': 'text/csv' };
  }
  return request;
}

describe('tenant isolation on every tenant route', () => {
  it('every tenant route is documented and every path parameter has an id source', () => {
    expect(app.tenantRoutes.length).toBeGreaterThan(40);
    for (const route of app.tenantRoutes) {
      operationFor(ops, route.method, route.url);
      expect(() => concreteUrl(route.url, idsOfB), key(route)).not.toThrow();
    }
  });

  it('token A + header A + ids of B → 404 problem+json on every route with an id; nothing changes', async () => {
    const withIds = app.tenantRoutes.filter((route) => pathParams(route.url).length > 0);
    expect(withIds.length).toBeGreaterThan(15);
    const before = await databaseSnapshot(app);
    for (const route of withIds) {
      const response = await app.inject(requestFor(route, a.owner.headers));
      expect(response.statusCode, `${key(route)}: ${response.body}`).toBe(404);
      expect(response.headers['content-type'], key(route)).toContain('application/problem+json');
      expect(response.body, key(route)).not.toContain(b.tenant);
    }
    expect(await databaseSnapshot(app)).toEqual(before);
    // B still sees its objects.
    const task = await app.inject({ method: 'GET', url: `/tasks/${idsOfB.tasks}`, headers: b.owner.headers });
    expect(task.json()).toMatchObject({ title: 'Secret task' });
  });

  it('token A + header B → 401 on every route', async () => {
    const headers = { ...a.owner.headers, tenant: b.tenant };
    const before = await databaseSnapshot(app);
    for (const route of app.tenantRoutes) {
      const response = await app.inject(requestFor(route, headers));
      expect(response.statusCode, `${key(route)}: ${response.body}`).toBe(401);
      expect(response.headers['content-type'], key(route)).toContain('application/problem+json');
    }
    expect(await databaseSnapshot(app)).toEqual(before);
  });

  it('no token → 401 on every route not declared public', async () => {
    for (const route of app.tenantRoutes.filter((r) => r.access !== PUBLIC)) {
      for (const authorization of [undefined, 'Bearer ', `Bearer ${'x'.repeat(43)}`]) {
        const headers: Record<string, string> = { tenant: b.tenant };
        if (authorization !== undefined) headers.authorization = authorization;
        const response = await app.inject(requestFor(route, headers));
        expect(response.statusCode, `${key(route)} (${authorization})`).toBe(401);
      }
    }
  });

  it("a MEMBER lacking the route's permission → 403 naming it, on every such route", async () => {
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: b.member.headers });
    const granted = new Set(me.json<{ permissions: string[] }>().permissions);
    const refused = app.tenantRoutes.filter(
      (route) => route.access !== PUBLIC && route.access !== AUTHENTICATED && !granted.has(route.access),
    );
    expect(refused.length).toBeGreaterThan(10);
    const before = await databaseSnapshot(app);
    for (const route of refused) {
      const response = await app.inject(requestFor(route, b.member.headers));
      expect(response.statusCode, `${key(route)}: ${response.body}`).toBe(403);
      expect(response.json<{ detail: string }>().detail, key(route)).toContain(route.access);
    }
    expect(await databaseSnapshot(app)).toEqual(before);
  });
});
