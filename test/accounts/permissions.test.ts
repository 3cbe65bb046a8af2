/**
 * Permissions are enforced on every tenant route (SPEC 3.2, 4): the test walks the route table the auth
 * guard records (`app.tenantRoutes`), so a route added later — by any area registered with `withAuth` —
 * is covered without touching this file, and a route that declares no access cannot even be registered.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { withAuth } from '../../src/auth/auth-plugin.ts';
import { AUTHENTICATED, PERMISSIONS, PUBLIC } from '../../src/auth/permissions.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { testApp } from '../helpers/core.ts';
import { type AccountsApp, accountsApp, login, type Owner, signUp, uniqueEmail } from './helpers.ts';

let context: AccountsApp;
let app: App;
let owner: Owner;
beforeAll(async () => {
  context = await accountsApp();
  app = context.app;
  owner = await signUp(context);
});

async function memberHeaders(): Promise<Record<string, string>> {
  const email = uniqueEmail('member');
  const created = await app.inject({
    method: 'POST',
    url: '/users/',
    headers: owner.headers,
    payload: { email, first_name: 'Mem', last_name: 'Ber', password: 'member-password-1' },
  });
  expect(created.statusCode, created.body).toBe(201);
  return login(app, email, 'member-password-1');
}

const MEMBER_PERMISSIONS = new Set(['USER_VIEW', 'TASK_VIEW', 'TASK_ADD', 'TASK_EDIT']);

/** Every `:param` replaced by a uuid no tenant uses. */
const concrete = (url: string) => url.replace(/:[A-Za-z_]+/g, () => randomUUID());

describe('the tenant route table', () => {
  it('lists every account route with its declared access', () => {
    const operations = new Map(app.tenantRoutes.map((route) => [route.operationId, route.access]));
    expect(
      Object.fromEntries(
        [...operations].filter(([id]) => /^(auth|users|roles|groups|settings)\./.test(id ?? '')),
      ),
    ).toEqual({
      'auth.logout': AUTHENTICATED,
      'auth.logoutAll': AUTHENTICATED,
      'auth.me': AUTHENTICATED,
      'users.list': 'USER_VIEW',
      'users.count': 'USER_VIEW',
      'users.export': 'USER_EXPORT',
      'users.import': 'USER_IMPORT',
      'users.get': 'USER_VIEW',
      'users.create': 'USER_ADD',
      'users.update': 'USER_EDIT',
      'users.delete': 'USER_DELETE',
      'roles.list': 'USER_VIEW',
      'roles.permissions': 'USER_VIEW',
      'roles.get': 'USER_VIEW',
      'roles.create': 'ROLE_MANAGE',
      'roles.update': 'ROLE_MANAGE',
      'roles.delete': 'ROLE_MANAGE',
      'groups.list': 'USER_VIEW',
      'groups.get': 'USER_VIEW',
      'groups.create': 'GROUP_MANAGE',
      'groups.update': 'GROUP_MANAGE',
      'groups.delete': 'GROUP_MANAGE',
      'settings.tenant.get': AUTHENTICATED,
      'settings.tenant.put': 'SETTINGS_MANAGE',
      'settings.me.get': AUTHENTICATED,
      'settings.me.put': AUTHENTICATED,
    });
  });

  it('refuses to register a tenant route that declares no access', async () => {
    const broken = withAuth(async (scope) => {
      scope.get('/_test/unguarded', async () => ({ ok: true }));
    });
    await expect(
      testApp({
        setup: async (built) => {
          await built.register(broken);
        },
      }),
    ).rejects.toThrow(/declares no valid access/);
  });

  it('the permission names in code are the seeded ones', async () => {
    const db = app.core.hosts.db(DEFAULT_HOST).withSchema(owner.tenant);
    const rows = await db.selectFrom('permissions').select('name').orderBy('id').execute();
    expect(rows.map((row) => row.name)).toEqual([...PERMISSIONS]);
  });
});

describe('every tenant route', () => {
  it('answers 401 without a token (except public ones)', async () => {
    for (const route of app.tenantRoutes) {
      if (route.access === PUBLIC) continue;
      const response = await app.inject({
        method: route.method as 'GET',
        url: concrete(route.url),
        headers: { tenant: owner.tenant },
      });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('answers 403 to a MEMBER exactly where the role lacks the permission', async () => {
    const member = await memberHeaders();
    let forbidden = 0;
    // Logging out ends the member's session: those two routes go last.
    const last = new Set(['auth.logout', 'auth.logoutAll']);
    const routes = [
      ...app.tenantRoutes.filter((route) => !last.has(route.operationId ?? '')),
      ...app.tenantRoutes.filter((route) => route.operationId === 'auth.logoutAll'),
    ];
    for (const route of routes) {
      const response = await app.inject({
        method: route.method as 'GET',
        url: concrete(route.url),
        headers: member,
        ...(['PUT', 'PATCH'].includes(route.method) ||
        (route.method === 'POST' && !last.has(route.operationId ?? ''))
          ? { payload: {} }
          : {}),
      });
      const label = `${route.method} ${route.url} (${route.access})`;
      const needsMissing =
        route.access !== AUTHENTICATED && route.access !== PUBLIC && !MEMBER_PERMISSIONS.has(route.access);
      if (needsMissing) {
        forbidden++;
        expect(response.statusCode, label).toBe(403);
        expect(response.json(), label).toMatchObject({
          status: 403,
          detail: `This needs the permission ${route.access}`,
        });
      } else {
        expect([401, 403], label).not.toContain(response.statusCode);
      }
    }
    expect(forbidden).toBeGreaterThanOrEqual(12);
    // Logout-all ran above with the member's token: it is revoked now.
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: member })).statusCode).toBe(401);
  });
});
