/**
 * Authentication and the declarative permission guard for tenant routes (SPEC 4, 11).
 *
 * Every tenant route declares what it needs in its options, and nothing else:
 *
 *     scope.get('/users/', { config: { permission: 'USER_VIEW' }, schema: … }, handler)
 *     scope.get('/auth/me', { config: { permission: AUTHENTICATED }, schema: … }, handler)
 *
 * `withAuth(routes)` opens a tenant area: `tenantScope` (the `tenant` header → `request.tenant`), then
 * `authGuard`, then the routes. The guard
 *  - refuses at registration a route that declares no access (`config.permission`), so the app does not
 *    even start with an unguarded tenant route;
 *  - records every route in `app.tenantRoutes` (the table-driven permission test walks it);
 *  - per request: bearer token → session in THIS tenant's schema → user, role, permissions (one query,
 *    or none when the principal cache holds it: src/auth/principal-cache.ts),
 *    401 when missing/malformed/expired/revoked or issued by another tenant (its hash is simply not in
 *    this schema), 403 when the role lacks the permission.
 *
 * Inside a handler: `request.user`, `request.role`, `request.session`, `request.permissions`.
 */
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyPluginOptions,
  FastifyRequest,
  FastifyTypeProvider,
  RawServerBase,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { problems } from '../http/problem.ts';
import { safeWrites } from '../http/safe-writes.ts';
import { withTenant } from '../tenancy/tenant-plugin.ts';
import { authenticateApiToken, isApiToken } from './api-tokens.ts';
import { AUTHENTICATED, isRouteAccess, type Permission, PUBLIC, type RouteAccess } from './permissions.ts';
import type { Principal, PrincipalRole, PrincipalSession, PrincipalUser } from './principal.ts';
import { bearerToken } from './tokens.ts';

/** One row of the route table: what a tenant route is and what it needs. */
export interface TenantRouteInfo {
  method: string;
  url: string;
  access: RouteAccess;
  operationId: string | undefined;
}

const principalSlot: unique symbol = Symbol('tenantry.principal');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a tenant route needs (src/auth/permissions.ts). Required on every route of a `withAuth` area. */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    /** The caller's user. Throws on a `public` route (no principal there): a programming error. */
    readonly user: PrincipalUser;
    /** The caller's role (id, uuid, name, title). */
    readonly role: PrincipalRole;
    /** The session the bearer token belongs to. */
    readonly session: PrincipalSession;
    /** The permissions of the caller's role. */
    readonly permissions: ReadonlySet<Permission>;
    [principalSlot]: Principal | null;
  }
  interface FastifyInstance {
    /** Every route registered inside a `withAuth` area, with its declared access. */
    tenantRoutes: TenantRouteInfo[];
  }
}

function principalOf(request: FastifyRequest): Principal {
  const principal = request[principalSlot];
  if (!principal) throw new Error('request.user read on a route without authentication (permission: public)');
  return principal;
}

/** Once per app (inside accountsPlugin): the request decorations and the route table. */
export function decorateAuth(app: FastifyInstance): void {
  app.decorate('tenantRoutes', []);
  app.decorateRequest(principalSlot, null);
  app.decorateRequest('user', {
    getter: function (this: FastifyRequest) {
      return principalOf(this).user;
    },
  });
  app.decorateRequest('role', {
    getter: function (this: FastifyRequest) {
      return principalOf(this).role;
    },
  });
  app.decorateRequest('session', {
    getter: function (this: FastifyRequest) {
      return principalOf(this).session;
    },
  });
  app.decorateRequest('permissions', {
    getter: function (this: FastifyRequest) {
      return principalOf(this).permissions;
    },
  });
}

function declaredAccess(route: RouteOptions): RouteAccess {
  const access = route.config?.permission;
  if (!isRouteAccess(access)) {
    throw new Error(
      `tenant route ${String(route.method)} ${route.url} declares no valid access: add config.permission ` +
        `(a permission name, 'authenticated-only' or 'public')`,
    );
  }
  return access;
}

export const authGuard = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRoute', (route) => {
      const access = declaredAccess(route);
      // Document in OpenAPI what every tenant route needs, so no route has to repeat it.
      const schema = route.schema as { security?: unknown } | undefined;
      if (schema && schema.security === undefined) {
        schema.security = access === PUBLIC ? [{ tenant: [] }] : [{ bearer: [], tenant: [] }];
      }
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        // Fastify adds HEAD twins of GET routes with the same config; the GET row covers them.
        if (method === 'HEAD') continue;
        const operationId = (route.schema as { operationId?: string } | undefined)?.operationId;
        app.tenantRoutes.push({ method, url: route.url, access, operationId });
      }
    });

    app.addHook('onRequest', async (request, reply) => {
      const access = request.routeOptions.config.permission;
      if (access === PUBLIC) return;
      const token = bearerToken(request.headers.authorization);
      if (!token) throw problems.unauthorized();
      // API tokens (tnt_…) are looked up each time (src/auth/api-tokens.ts); sessions go through the
      // principal cache (src/auth/principal-cache.ts).
      const principal = isApiToken(token)
        ? await authenticateApiToken(request.tenant.db, token)
        : await app.accounts.principals.authenticate(request.tenant, token);
      if (!principal) throw problems.unauthorized('The bearer token is invalid, expired or revoked');
      request[principalSlot] = principal;
      if (principal.apiToken) {
        // Request logs name the token (issue 19): who did it, through which integration.
        request.log = request.log.child({ api_token: principal.apiToken.name });
        reply.log = request.log;
        if (access === AUTHENTICATED)
          throw problems.forbidden(
            'API tokens can only call routes that need a permission within their scopes; sign in for this one',
          );
      }
      if (access !== undefined && access !== 'authenticated-only' && !principal.permissions.has(access)) {
        throw problems.forbidden(`This needs the permission ${access}`);
      }
    });
  },
  { name: 'tenantry-auth-guard', fastify: '5.x', dependencies: ['tenantry-tenant-scope'] },
);

/** An encapsulated tenant area: tenant resolution, then authentication + permissions, then `routes`. */
export function withAuth<
  Options extends FastifyPluginOptions,
  Server extends RawServerBase,
  Provider extends FastifyTypeProvider,
>(routes: FastifyPluginAsync<Options, Server, Provider>): FastifyPluginAsync<Options, Server, Provider> {
  return withTenant<Options, Server, Provider>(async (scope, options) => {
    await scope.register(authGuard);
    // Idempotency-Key and ETag / If-None-Match on every tenant route (issue 19).
    await scope.register(safeWrites);
    await scope.register(routes, options);
  });
}
