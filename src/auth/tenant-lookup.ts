/**
 * Tenant handles for the flows that arrive WITHOUT a `tenant` header (login via the directory, one-time
 * tokens that carry their tenant). Same rules as the request plugin (src/tenancy/tenant-plugin.ts): only
 * active tenants whose migrations did not fail, upgraded first when behind head. Anything else is
 * "not available" (null), which the callers answer exactly like a wrong password or a bad link, so these
 * unauthenticated flows reveal nothing about a tenant's state. An upgrade that fails or outlasts its
 * limit answers 503 + Retry-After (the request plugin's rules, `ready`), never 500; a tenant deleted
 * during its upgrade is "not available".
 *
 * Routing by Host (issue 21): when the request came to a tenant's domain, only that tenant is available —
 * the login page at acme.example.com never signs anyone into another company, and a reset link of
 * tenant B opened on A's domain is a bad link. A Host that is no tenant domain changes nothing.
 */
import type { FastifyInstance } from 'fastify';
import { HttpProblem } from '../http/problem.ts';
import { ready, type TenantContext } from '../tenancy/tenant-plugin.ts';

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
    db: app.core.hosts.schemaDb(tenant.host, tenant.schema),
  };
}
