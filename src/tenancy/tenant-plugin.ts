/**
 * The request's tenant (SPEC 2): `tenant` header → registry cache → `request.tenant`. Without the header,
 * a Host that is a tenant's domain names the tenant (issue 21, domain-cache.ts); with both, they must agree.
 *
 * Two plugins:
 *  - `tenancyPlugin` (once, in buildApp): the registry cache with its LISTEN client, the on-demand
 *    upgrader, and the `request.tenant` decoration.
 *  - `tenantScope` (once per tenant route area): the onRequest hook that resolves the header. It is a
 *    fastify-plugin, so its hook lands in the encapsulated context that registers it — routes outside
 *    that context never pay for it. Register it before the routes (and before auth, which builds on
 *    `request.tenant`), or wrap the area with `withTenant(routes)`:
 *
 *      await app.register(withTenant(taskRoutes), { prefix: '/tasks' });
 *
 * Answers (problem+json): header missing/invalid → 400; unknown tenant → 404 (repeated unknown names
 * come from the negative cache, no query); suspended → 403; being provisioned → 503; migration failed
 * → 503 + Retry-After; behind head → upgraded first (concurrent first requests share one upgrade);
 * registry or host unreachable → 503 + Retry-After (error handler). A route that needs a bearer token and got
 * none answers 401 before any upgrade runs. A tenant dropped while its request runs (another process
 * deleted it: `42P01` undefined table, `3F000` no such schema) → 404 when the registry no longer has it,
 * else 503 + Retry-After — never 500.
 *
 * `request.tenant.db` is the tenant host's shared Kysely with `withSchema(schema)`: every query is
 * schema-qualified, so no session state (`SET search_path`) is ever left on a pooled connection.
 */
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyPluginOptions,
  FastifyRequest,
  FastifyTypeProvider,
  RawServerBase,
} from 'fastify';
import fp from 'fastify-plugin';
import { bearerToken } from '../auth/tokens.ts';
import { type AnyDb, DEFAULT_HOST } from '../db/hosts.ts';
import { SQLSTATE, sqlState } from '../db/sqlstate.ts';
import { problems } from '../http/problem.ts';
import { DomainCache, hostTenantId } from './domain-cache.ts';
import { type CachedTenant, RegistryCache } from './registry-cache.ts';
import { tenantIdProblem } from './tenant-id.ts';
import {
  TenantGoneError,
  TenantUpgradeFailedError,
  TenantUpgrader,
  TenantUpgradeTimeoutError,
} from './tenant-upgrader.ts';

/** What a tenant route gets. Keep it small: auth and domain routes build on exactly this. */
export interface TenantContext {
  /** Tenant id (validated; also the schema name). */
  id: string;
  /** Database host name (key of the hosts map). */
  host: string;
  /** Schema holding the tenant's tables. */
  schema: string;
  /**
   * Kysely over the host's shared pool, bound to the schema (`withSchema`). Plain reads are one query;
   * open `db.transaction()` only where a handler writes several rows.
   */
  db: AnyDb;
}

/** Backing slot of `request.tenant` (the public property is a getter that refuses to return null). */
const tenantSlot: unique symbol = Symbol('tenantry.tenant');

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by `tenantScope` before any handler of a tenant route runs. Reading it in a route outside a
     * tenant scope throws (a programming error, answered 500), rather than handing out null.
     */
    tenant: TenantContext;
    [tenantSlot]: TenantContext | null;
  }
  interface FastifyInstance {
    registryCache: RegistryCache;
    tenantUpgrader: TenantUpgrader;
    /** Domain → tenant for routing by Host (issue 21, domain-cache.ts). */
    tenantDomains: DomainCache;
  }
}

/** Seconds a client should wait before retrying a tenant whose migration failed (an operator must act). */
const FAILED_MIGRATION_RETRY_S = 30;

export const tenancyPlugin = fp(
  async (app: FastifyInstance) => {
    const { core } = app;
    const cache = new RegistryCache(core.registry, {
      listenUrl: core.hosts.url(DEFAULT_HOST),
      onListenerError: (error) =>
        app.log.warn({ err: error }, 'registry LISTEN connection lost; reconnecting'),
    });
    const upgrader = new TenantUpgrader({
      hosts: core.hosts,
      registry: core.registry,
      runner: core.tenantRunner,
      cache,
    });
    cache.start();
    app.decorate('registryCache', cache);
    app.decorate('tenantDomains', new DomainCache(core.domains, cache));
    app.decorate('tenantUpgrader', upgrader);
    app.decorateRequest(tenantSlot, null);
    app.decorateRequest('tenant', {
      getter(this: FastifyRequest): TenantContext {
        const tenant = this[tenantSlot];
        if (!tenant) throw new Error('request.tenant read in a route outside a tenant scope (withTenant)');
        return tenant;
      },
      setter(this: FastifyRequest, tenant: TenantContext) {
        this[tenantSlot] = tenant;
      },
    });
    app.addHook('onClose', async () => {
      await upgrader.close();
      await cache.close();
    });
  },
  { name: 'tenantry-tenancy', fastify: '5.x' },
);

export const tenantScope = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request, reply) => {
      request.tenant = await resolveTenant(app, request);
      // Every later log line of this request (its handler, errors, the response line, which Fastify
      // writes through reply.log) names the tenant beside Fastify's request id.
      request.log = request.log.child({ tenant: request.tenant.id });
      reply.log = request.log;
    });
    // Errors of this area pass here first; anything not about a vanished tenant goes on, rethrown, to
    // the application's error handler (src/http/error-handler.ts).
    app.setErrorHandler(async (error, request) => {
      throw (await vanishedTenantProblem(app, request, error)) ?? error;
    });
  },
  { name: 'tenantry-tenant-scope', fastify: '5.x', dependencies: ['tenantry-tenancy'] },
);

/**
 * An encapsulated plugin: `tenantScope` followed by `routes` (the usual way to open a tenant area).
 * Keeps the routes' type provider, so `FastifyPluginAsyncTypebox` route plugins pass straight in.
 */
export function withTenant<
  Options extends FastifyPluginOptions,
  Server extends RawServerBase,
  Provider extends FastifyTypeProvider,
>(routes: FastifyPluginAsync<Options, Server, Provider>): FastifyPluginAsync<Options, Server, Provider> {
  return async (scope, options) => {
    await scope.register(tenantScope);
    await scope.register(routes, options);
  };
}

function headerTenantId(request: FastifyRequest): string {
  const raw = request.headers.tenant;
  if (raw === undefined) throw problems.badRequest('The "tenant" header is required');
  if (typeof raw !== 'string') throw problems.badRequest('Send the "tenant" header once');
  const problem = tenantIdProblem(raw);
  if (problem) throw problems.badRequest(`Invalid "tenant" header: ${problem}`);
  return raw;
}

/** The `tenant` header, or else the tenant whose domain the Host is; both → they must agree (400). */
async function requestTenantId(app: FastifyInstance, request: FastifyRequest): Promise<string> {
  const header = request.headers.tenant === undefined ? undefined : headerTenantId(request);
  return (await hostTenantId(app.tenantDomains, request, header)) ?? headerTenantId(request);
}

/**
 * A query of this request found its tenant's schema or table gone: another process dropped the tenant
 * (or a migration is swapping a table). 404 when the registry no longer lists it as live, otherwise 503 +
 * Retry-After; null for every other error.
 */
async function vanishedTenantProblem(app: FastifyInstance, request: FastifyRequest, error: unknown) {
  const code = sqlState(error);
  if (code !== SQLSTATE.UNDEFINED_TABLE && code !== SQLSTATE.INVALID_SCHEMA_NAME) return null;
  const tenant = request[tenantSlot];
  if (!tenant) return null;
  app.registryCache.invalidate(tenant.id);
  const row = await app.registryCache.get(tenant.id);
  if (!row || row.status === 'deleting') return problems.notFound('tenant', tenant.id);
  request.log.warn({ err: error, tenant: tenant.id }, 'tenant schema changed under a request');
  return problems.unavailable(`Tenant "${tenant.id}" is changing; try again shortly`, 1);
}

/**
 * Whether the route needs a bearer token (auth-plugin.ts's `config.permission`, anything but `public`)
 * and the request has none that could be valid: answered 401 before an upgrade can run for it. Full
 * authentication needs the tenant's schema at head, so it stays after the upgrade.
 */
function missingToken(request: FastifyRequest): boolean {
  const access = (request.routeOptions.config as { permission?: unknown }).permission;
  return access !== undefined && access !== 'public' && !bearerToken(request.headers.authorization);
}

async function resolveTenant(app: FastifyInstance, request: FastifyRequest): Promise<TenantContext> {
  const tenantId = await requestTenantId(app, request);
  let tenant = await app.registryCache.get(tenantId);
  if (!tenant) throw problems.notFound('tenant', tenantId);
  if (tenant.status === 'active' && app.tenantUpgrader.isBehind(tenant) && missingToken(request))
    throw problems.unauthorized();
  tenant = await ready(app, tenant);
  const { hosts } = app.core;
  if (!hosts.has(tenant.host)) {
    request.log.error({ tenant: tenantId, host: tenant.host }, 'tenant placed on an unconfigured host');
    throw problems.unavailable(`The database host of tenant "${tenantId}" is not configured`, 30);
  }
  return {
    id: tenant.tenantId,
    host: tenant.host,
    schema: tenant.schema,
    db: hosts.schemaDb(tenant.host, tenant.schema),
  };
}

/**
 * Applies the status rules; upgrades a tenant that is behind. Returns the row to serve with. Also used
 * by the flows without a tenant header (src/auth/tenant-lookup.ts), so a failed or slow upgrade answers
 * 503 + Retry-After there too.
 */
export async function ready(app: FastifyInstance, tenant: CachedTenant): Promise<CachedTenant> {
  switch (tenant.status) {
    case 'active':
      break;
    case 'suspended':
      throw problems.forbidden(`Tenant "${tenant.tenantId}" is suspended`);
    case 'provisioning':
      throw problems.unavailable(`Tenant "${tenant.tenantId}" is still being created`, 2);
    case 'deleting':
      throw problems.notFound('tenant', tenant.tenantId);
  }
  if (tenant.migrationStatus === 'failed') {
    throw problems.unavailable(
      `Tenant "${tenant.tenantId}" is unavailable: its last migration failed`,
      FAILED_MIGRATION_RETRY_S,
    );
  }
  if (!app.tenantUpgrader.isBehind(tenant)) return tenant;
  try {
    return await app.tenantUpgrader.ensure(tenant);
  } catch (error) {
    if (error instanceof TenantGoneError) throw problems.notFound('tenant', tenant.tenantId);
    if (error instanceof TenantUpgradeTimeoutError)
      throw problems.unavailable(`Tenant "${tenant.tenantId}" is being upgraded; try again shortly`, 5);
    if (error instanceof TenantUpgradeFailedError) {
      app.log.error({ err: error.cause, tenant: tenant.tenantId }, 'on-demand tenant migration failed');
      throw problems.unavailable(
        `Tenant "${tenant.tenantId}" is unavailable: its migration failed`,
        FAILED_MIGRATION_RETRY_S,
      );
    }
    throw error;
  }
}
