/**
 * Tenant handles for the flows that arrive WITHOUT a `tenant` header (login via the directory, one-time
 * tokens that carry their tenant). Same rules as the request plugin (src/tenancy/tenant-plugin.ts): only
 * active tenants whose migrations did not fail, upgraded first when behind head. Anything else is
 * "not available" (null), which the callers answer exactly like a wrong password or a bad link, so these
 * unauthenticated flows reveal nothing about a tenant's state. An upgrade that fails or outlasts its
 * limit answers 503 + Retry-After (the request plugin's rules, `ready`), never 500; a tenant deleted
 * during its upgrade is "not available".
 */
import type { FastifyInstance } from 'fastify';
import { HttpProblem } from '../http/problem.ts';
import { ready, type TenantContext } from '../tenancy/tenant-plugin.ts';

export async function openTenant(app: FastifyInstance, tenantId: string): Promise<TenantContext | null> {
  let tenant = await app.registryCache.get(tenantId);
  if (!tenant || tenant.status !== 'active' || tenant.migrationStatus === 'failed') return null;
  if (!app.core.hosts.has(tenant.host)) return null;
  try {
    tenant = await ready(app, tenant);
  } catch (error) {
    if (error instanceof HttpProblem && error.status === 404) return null;
    throw error;
  }
  return {
    id: tenant.tenantId,
    host: tenant.host,
    schema: tenant.schema,
    db: app.core.hosts.db(tenant.host).withSchema(tenant.schema),
  };
}
