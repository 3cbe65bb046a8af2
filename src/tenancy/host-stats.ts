/**
 * What each database host holds and how it is doing (issue 17): tenants (from the registry), the size of
 * its tenant schemas and of its database, its connections, the revision of its host-level migrations
 * (src/tenancy/host-migrations.ts) and whether it answers at all. Read by `GET /cc/hosts`,
 * `tenantry hosts list` and the placement policies (src/tenancy/placement.ts).
 *
 * A host that does not answer within `timeoutMs` is reported `reachable: false` with the reason; it is
 * never an error of the caller (an operator looks at this page precisely when a host is in trouble).
 */
import { sql } from 'kysely';
import type { DatabaseHosts } from '../db/hosts.ts';
import { HOST_SCHEMA, type HostMigrations } from './host-migrations.ts';

/** What measuring needs (a Core has both). */
export interface HostStatsDeps {
  hosts: DatabaseHosts;
  hostMigrations: HostMigrations;
}

export interface HostStats {
  host: string;
  /** Registry rows placed on this host (every status: provisioning and deleting ones take room too). */
  tenants: number;
  reachable: boolean;
  /** Why the host is unreachable (the driver's message), null when it answered. */
  error: string | null;
  /** Sum of pg_total_relation_size over the tables of this host's tenant schemas (indexes, TOAST). */
  tenant_bytes: number | null;
  /** pg_database_size of the host's database (what fills its disk). */
  database_bytes: number | null;
  /** Backends connected to this database (pg_stat_activity), every client included. */
  connections: number | null;
  /** Host-level revision recorded in `tenantry.schema_migrations` (null: none applied yet). */
  host_revision: string | null;
  host_head: string | null;
}

/** How long one host may take to answer before it counts as unreachable. */
export const HOST_STATS_TIMEOUT_MS = 2_000;

/** Tenants per host from the registry (default host): `SELECT host, count(*) … GROUP BY host`. */
export async function tenantsPerHost(core: Pick<HostStatsDeps, 'hosts'>): Promise<Map<string, number>> {
  const rows = await sql<{ host: string; n: number }>`
    SELECT host, count(*)::int AS n FROM public.tenants GROUP BY host`.execute(core.hosts.db());
  return new Map(rows.rows.map((row) => [row.host, row.n]));
}

function withTimeout<T>(work: Promise<T>, ms: number, host: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`host ${host} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One host's figures in one round trip (plus the host-level version table, when it exists). Without
 * `sizes` the tenant schemas are not summed (placement by tenant count only needs to know it answers).
 */
async function measure(core: HostStatsDeps, host: string, tenantIds: string[], sizes: boolean) {
  const db = core.hosts.db(host);
  const result = await sql<{
    database_bytes: string;
    tenant_bytes: string;
    connections: number;
    versioned: boolean;
  }>`
    SELECT pg_database_size(current_database())::text AS database_bytes,
           (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE ${sizes} AND n.nspname = ANY(${tenantIds}::text[]) AND c.relkind IN ('r', 'm'))::text AS tenant_bytes,
           (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections,
           to_regclass(${`${HOST_SCHEMA}.schema_migrations`}) IS NOT NULL AS versioned`.execute(db);
  const row = result.rows[0]!;
  const status = row.versioned
    ? await core.hostMigrations.runner.status(core.hostMigrations.target(host))
    : null;
  return {
    database_bytes: Number(row.database_bytes),
    tenant_bytes: sizes ? Number(row.tenant_bytes) : null,
    connections: row.connections,
    host_revision: status?.current ?? null,
  };
}

/** A driver error in words: Node's AggregateError (every address refused) has an empty message. */
export function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  const inner = error instanceof AggregateError ? error.errors.map(reason).join('; ') : '';
  return inner || code || error.name;
}

/** Every configured host, `default` first; unreachable ones included with their reason. */
export async function hostStats(
  core: HostStatsDeps,
  options: { timeoutMs?: number; sizes?: boolean } = {},
): Promise<HostStats[]> {
  const timeoutMs = options.timeoutMs ?? HOST_STATS_TIMEOUT_MS;
  const counts = await tenantsPerHost(core);
  const sizes = options.sizes ?? true;
  // Tenant ids per host only when their schemas are summed (placement by count does not need them).
  const placed = sizes
    ? (
        await sql<{ host: string; tenant_id: string }>`SELECT host, tenant_id FROM public.tenants`.execute(
          core.hosts.db(),
        )
      ).rows
    : [];
  const head = core.hostMigrations.runner.set.head;
  const names = core.hosts.names();
  return Promise.all(
    names.map(async (host): Promise<HostStats> => {
      const ids = placed.filter((row) => row.host === host).map((row) => row.tenant_id);
      const base = { host, tenants: counts.get(host) ?? 0, host_head: head };
      try {
        const figures = await withTimeout(measure(core, host, ids, sizes), timeoutMs, host);
        return { ...base, reachable: true, error: null, ...figures };
      } catch (error) {
        return {
          ...base,
          reachable: false,
          error: reason(error),
          tenant_bytes: null,
          database_bytes: null,
          connections: null,
          host_revision: null,
        };
      }
    }),
  );
}
