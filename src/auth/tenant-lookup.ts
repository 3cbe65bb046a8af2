/**
 * Tenant handles for the flows that arrive WITHOUT a `tenant` header (login via the directory, one-time
 * tokens that carry their tenant). Same rules as the request plugin (src/tenancy/tenant-plugin.ts): only
 * active tenants whose migrations did not fail, upgraded first when behind head. Anything else is
 * "not available" (null), which the callers answer exactly like a wrong password or a bad link, so these
 * unauthenticated flows reveal nothing about a tenant's state.
 *
 * Routing by Host (issue 21): when the request came to a tenant's domain, only that tenant is available —
 * the login page at acme.example.com never signs anyone into another company, and a reset link of
 * tenant B opened on A's domain is a bad link. A Host that is no tenant domain changes nothing.
 */
import type { FastifyInstance } from 'fastify';
import type { TenantContext } from '../tenancy/tenant-plugin.ts';

export async function openTenant(
  app: FastifyInstance,
  tenantId: string,
  hostname?: string,
): Promise<TenantContext | null> {
  const byHost = await app.tenantDomains.tenantOfHost(hostname);
  if (byHost !== null && byHost !== tenantId) return null;
  let tenant = await app.registryCache.get(tenantId);
  if (!tenant || tenant.status !== 'active' || tenant.migrationStatus === 'failed') return null;
  if (!app.core.hosts.has(tenant.host)) return null;
  if (app.tenantUpgrader.isBehind(tenant)) tenant = await app.tenantUpgrader.ensure(tenant);
  return {
    id: tenant.tenantId,
    host: tenant.host,
    schema: tenant.schema,
    db: app.core.hosts.db(tenant.host).withSchema(tenant.schema),
  };
}
