/**
 * Tenant handles for the flows that arrive WITHOUT a `tenant` header (login via the directory, one-time
 * tokens that carry their tenant). Same rules as the request plugin (src/tenancy/tenant-plugin.ts): only
 * active tenants whose migrations did not fail, upgraded first when behind head. Anything else is
 * "not available" (null), which the callers answer exactly like a wrong password or a bad link, so these
 * unauthenticated flows reveal nothing about a tenant's state.
 */
import type { FastifyInstance } from 'fastify';
import type { TenantContext } from '../tenancy/tenant-plugin.ts';

export async function openTenant(app: FastifyInstance, tenantId: string): Promise<TenantContext | null> {
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
