/**
 * The isolation matrix when the tenant is chosen by Host (issue 21), beside isolation-matrix.test.ts
 * (the `tenant` header). Every route of `app.tenantRoutes` is called with
 *  - the token of A, Host of A (no header), ids of B's objects → 404, nothing changes;
 *  - the token of A, Host of B (no header) → 401;
 *  - the two ways mixed: header of A + Host of B (and header of B + Host of A) → 400 before anything of
 *    a tenant is read, nothing changes;
 *  - no token, Host of B → 401.
 * And the header-less account flows on a tenant's domain reach only that tenant (login, reset links).
 */
import type { InjectOptions } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TenantRouteInfo } from '../../src/auth/auth-plugin.ts';
import { PUBLIC } from '../../src/auth/permissions.ts';
import { linkToken, mailTo, PASSWORD, randomIp } from '../accounts/helpers.ts';
import { ADMIN } from '../helpers/core.ts';
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
let idsOfB: Record<string, string>;
let ops: Operation[];
const domainOf = (users: TenantUsers) => `${users.tenant.replaceAll('_', '-')}.example.test`;

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
  for (const users of [a, b]) {
    const added = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${users.tenant}/domains`,
      headers: ADMIN,
      payload: { domain: domainOf(users) },
    });
    expect(added.statusCode, added.body).toBe(201);
  }
});

const key = (route: TenantRouteInfo) => `${route.method} ${route.url}`;

/** Headers of a caller with the `tenant` header taken out (the Host chooses the tenant). */
function byHost(headers: Record<string, string>, host: string): Record<string, string> {
  const { tenant: _tenant, ...rest } = headers;
  return { ...rest, host };
}

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

describe('tenant isolation when the Host chooses the tenant', () => {
  it('token A + Host A serves A (no header needed)', async () => {
    const users = await app.inject({
      method: 'GET',
      url: '/users/',
      headers: byHost(a.owner.headers, domainOf(a)),
    });
    expect(users.statusCode, users.body).toBe(200);
    const emails = users.json<{ items: Array<{ email: string }> }>().items.map((u) => u.email);
    expect(emails.sort()).toEqual([a.owner.email, a.member.email].sort());
  });

  it('token A + Host A + ids of B → 404 on every route with an id; nothing changes', async () => {
    const withIds = app.tenantRoutes.filter((route) => pathParams(route.url).length > 0);
    expect(withIds.length).toBeGreaterThan(15);
    const before = await databaseSnapshot(app);
    for (const route of withIds) {
      const response = await app.inject(requestFor(route, byHost(a.owner.headers, domainOf(a))));
      expect(response.statusCode, `${key(route)}: ${response.body}`).toBe(404);
      expect(response.body, key(route)).not.toContain(b.tenant);
    }
    expect(await databaseSnapshot(app)).toEqual(before);
  });

  it('token A + Host B → 401 on every route', async () => {
    const before = await databaseSnapshot(app);
    for (const route of app.tenantRoutes) {
      const response = await app.inject(requestFor(route, byHost(a.owner.headers, domainOf(b))));
      expect(response.statusCode, `${key(route)}: ${response.body}`).toBe(401);
    }
    expect(await databaseSnapshot(app)).toEqual(before);
  });

  it('header A + Host B, and header B + Host A → 400 on every route; nothing read or changed', async () => {
    const before = await databaseSnapshot(app);
    for (const [caller, host] of [
      [a, domainOf(b)],
      [b, domainOf(a)],
    ] as const) {
      for (const route of app.tenantRoutes) {
        // The owner's own token and own header: only the Host disagrees.
        const headers = { ...caller.owner.headers, host };
        const response = await app.inject(requestFor(route, headers));
        expect(response.statusCode, `${key(route)}: ${response.body}`).toBe(400);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.json<{ detail: string }>().detail).toContain('different tenant than the domain');
      }
    }
    expect(await databaseSnapshot(app)).toEqual(before);
  });

  it('header and Host of the same tenant agree → served', async () => {
    const response = await app.inject({
      method: 'GET',
      url: `/tasks/${idsOfB.tasks}`,
      headers: { ...b.owner.headers, host: `${domainOf(b).toUpperCase()}:8443` },
    });
    expect(response.statusCode, response.body).toBe(200);
  });

  it('no token + Host B → 401 on every route not declared public', async () => {
    for (const route of app.tenantRoutes.filter((r) => r.access !== PUBLIC)) {
      const response = await app.inject(requestFor(route, { host: domainOf(b) }));
      expect(response.statusCode, key(route)).toBe(401);
    }
  });
});

describe('account flows without a header on a tenant domain', () => {
  const loginAt = (host: string, email: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { host },
      payload: { email, password: PASSWORD },
      remoteAddress: randomIp(),
    });

  it("login on A's domain signs A's users in and answers B's users like a wrong password", async () => {
    const own = await loginAt(domainOf(a), a.member.email);
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().tenant_id).toBe(a.tenant);
    const foreign = await loginAt(domainOf(a), b.member.email);
    expect(foreign.statusCode).toBe(401);
    const wrong = await loginAt(domainOf(a), 'nobody@example.com');
    expect(foreign.json().detail).toBe(wrong.json().detail);
    // A Host that is no tenant domain: unified login as before.
    const anywhere = await loginAt('api.example.test', b.member.email);
    expect(anywhere.statusCode, anywhere.body).toBe(200);
    expect(anywhere.json().tenant_id).toBe(b.tenant);
  });

  it("a reset link of B opened on A's domain is a bad link; on B's domain it works", async () => {
    const requested = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      headers: { host: domainOf(b) },
      payload: { email: b.member.email },
      remoteAddress: randomIp(),
    });
    expect(requested.statusCode).toBe(202);
    const mail = await mailTo(context.outbox, b.member.email, /reset/i);
    const token = linkToken(mail.text, 'reset-password');
    const confirm = (host: string) =>
      app.inject({
        method: 'POST',
        url: '/auth/password-reset/confirm',
        headers: { host },
        payload: { token, password: 'another long password' },
        remoteAddress: randomIp(),
      });
    const onA = await confirm(domainOf(a));
    expect(onA.statusCode, onA.body).toBe(400);
    const onB = await confirm(domainOf(b));
    expect(onB.statusCode, onB.body).toBe(204);
  });

  it("a reset requested on A's domain for B's user sends nothing", async () => {
    const requested = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      headers: { host: domainOf(a) },
      payload: { email: a.owner.email },
      remoteAddress: randomIp(),
    });
    expect(requested.statusCode).toBe(202);
    await mailTo(context.outbox, a.owner.email, /reset/i);
    const foreign = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      headers: { host: domainOf(a) },
      payload: { email: b.owner.email },
      remoteAddress: randomIp(),
    });
    expect(foreign.statusCode).toBe(202);
    await app.accounts.background.settle();
    await expect(mailTo(context.outbox, b.owner.email, /reset/i)).rejects.toThrow();
  });
});
