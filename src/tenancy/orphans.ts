/**
 * Orphan schemas (issue 13, "Deleted tenants must stay deleted"): a schema shaped like a tenant's (a
 * tenant-id name with a `schema_migrations` table) on a host where the registry has no row for it. Only
 * tenant creation makes tenant schemas, so an orphan is debris — a restore into the wrong host, a
 * hand-made copy, or a schema resurrected by an older version of this code — that blocks its id. It is
 * reported (`db check`, `db drift`, `GET /cc/drift`), never dropped automatically: it may hold data.
 */
import { sql } from 'kysely';
import type { DatabaseHosts } from '../db/hosts.ts';
import type { TenantRegistry } from './registry.ts';
import { tenantIdProblem } from './tenant-id.ts';

export interface OrphanSchema {
  host: string;
  schema: string;
}

export async function listOrphanSchemas(
  hosts: DatabaseHosts,
  registry: TenantRegistry,
  options: { host?: string } = {},
): Promise<OrphanSchema[]> {
  const orphans: OrphanSchema[] = [];
  for (const host of hosts.names()) {
    if (options.host !== undefined && host !== options.host) continue;
    const schemas = await sql<{ schema: string }>`
      SELECT n.nspname AS schema FROM pg_namespace n
      JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'schema_migrations' AND c.relkind = 'r'
      ORDER BY n.nspname`.execute(hosts.db(host));
    const candidates = schemas.rows.map((r) => r.schema).filter((name) => tenantIdProblem(name) === null);
    if (candidates.length === 0) continue;
    const registered = new Set((await registry.list({ host, tenants: candidates })).map((t) => t.tenant_id));
    for (const schema of candidates) if (!registered.has(schema)) orphans.push({ host, schema });
  }
  return orphans;
}
