/**
 * The status lines behind `tenantry db current` and `check`: the public schema and every tenant (the
 * default, so a deploy gate never says "ok" while tenants are behind), the public schema alone (`--public`)
 * or one schema (`--tenant`). Tenants are read in bulk, one query per host for every version table, and
 * judged by the same rules as a single schema (MigrationRunner.describe): behind, unknown revisions
 * (database newer than the code), checksum drift.
 */
import { sql } from 'kysely';
import type { Core } from '../core.ts';
import { type DatabaseHosts, DEFAULT_HOST } from '../db/hosts.ts';
import { VERSION_QUERY_CHUNK } from '../migrations/fleet.ts';
import type { AppliedRow, MigrationRunner, SchemaStatus, SchemaTarget } from '../migrations/runner.ts';
import type { TenantRow } from '../tenancy/registry.ts';
import { findTenantOrThrow } from '../tenancy/tenant-migrations.ts';

export const publicTarget = (core: Core): SchemaTarget => ({
  host: DEFAULT_HOST,
  db: core.hosts.db(DEFAULT_HOST),
  schema: 'public',
});

export interface StatusLine {
  schema: string;
  host: string;
  /** The newest recorded revision — one this code does not know when the database is ahead. */
  current: string | null;
  head: string | null;
  /** Revisions to apply; null when the schema is ahead of the code (see `unknown`) or unreadable. */
  behind: number | null;
  migration_status?: string;
  /** Downgraded on purpose: no automatic upgrade until an explicit one. */
  pinned?: boolean;
  error?: string | null;
  unknown: string[];
  drifted: string[];
}

export type StatusScope = { only: 'public' } | { only: 'tenant'; tenant: string } | { only: 'everything' };

function lineOf(status: SchemaStatus, host: string, tenant?: TenantRow): StatusLine {
  return {
    schema: status.schema,
    host,
    current: status.current,
    head: status.head,
    behind: status.unknown.length > 0 ? null : status.behind,
    ...(tenant
      ? {
          migration_status: tenant.migration_status,
          pinned: tenant.pinned_at !== null,
          error: tenant.migration_error,
        }
      : {}),
    unknown: status.unknown,
    drifted: status.drifted,
  };
}

/** Every given schema's version rows on one host, one query per 1,000 (schemas without a version table: absent). */
async function versionRowsOnHost(
  hosts: DatabaseHosts,
  host: string,
  schemas: string[],
): Promise<Map<string, Array<Pick<AppliedRow, 'revision' | 'checksum' | 'applied_at'>>>> {
  const bySchema = new Map<string, Array<Pick<AppliedRow, 'revision' | 'checksum' | 'applied_at'>>>();
  // In chunks, each its own statement: every version table read stays locked until the statement ends
  // (see VERSION_QUERY_CHUNK).
  for (let start = 0; start < schemas.length; start += VERSION_QUERY_CHUNK) {
    const chunk = schemas.slice(start, start + VERSION_QUERY_CHUNK);
    const result = await sql<{
      schema: string;
      revision: string | null;
      checksum: string | null;
      applied_at: Date | null;
    }>`
      SELECT n.nspname AS schema, r.revision, r.checksum, r.applied_at
      FROM pg_namespace n
      CROSS JOIN LATERAL query_to_xml(
        format('SELECT revision, checksum, applied_at FROM %I.schema_migrations', n.nspname), true, false, ''
      ) AS x
      LEFT JOIN LATERAL xmltable('/table/row' PASSING x COLUMNS
        revision text PATH 'revision', checksum text PATH 'checksum', applied_at timestamptz PATH 'applied_at'
      ) AS r ON true
      WHERE n.nspname = ANY(${chunk}::text[])
        AND to_regclass(format('%I.schema_migrations', n.nspname)) IS NOT NULL`.execute(hosts.db(host));
    for (const row of result.rows) {
      const rows = bySchema.get(row.schema) ?? [];
      if (row.revision !== null)
        rows.push({
          revision: row.revision,
          checksum: row.checksum,
          applied_at: row.applied_at ?? new Date(0),
        });
      bySchema.set(row.schema, rows);
    }
  }
  return bySchema;
}

async function tenantLines(core: Core, tenants: TenantRow[]): Promise<StatusLine[]> {
  const runner: MigrationRunner = core.tenantRunner;
  const lines: StatusLine[] = [];
  for (const host of [...new Set(tenants.map((t) => t.host))]) {
    const group = tenants.filter((t) => t.host === host);
    if (!core.hosts.has(host)) {
      for (const t of group) {
        lines.push({
          schema: t.tenant_id,
          host,
          current: t.revision,
          head: runner.set.head,
          behind: null,
          migration_status: t.migration_status,
          pinned: t.pinned_at !== null,
          error: `host "${host}" is not configured (TENANT_DATABASE_URLS)`,
          unknown: [],
          drifted: [],
        });
      }
      continue;
    }
    const versions = await versionRowsOnHost(
      core.hosts,
      host,
      group.map((t) => t.tenant_id),
    );
    for (const t of group) {
      const rows = versions.get(t.tenant_id);
      try {
        lines.push(lineOf(runner.describe(t.tenant_id, rows !== undefined, rows ?? null), host, t));
      } catch (error) {
        // A version table that is not a prefix of the chain: reported, never hidden.
        lines.push({
          ...lineOf(runner.describe(t.tenant_id, true, null), host, t),
          behind: null,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
  return lines;
}

export async function statuses(core: Core, scope: StatusScope): Promise<StatusLine[]> {
  if (scope.only === 'tenant') {
    const row = await findTenantOrThrow(core, scope.tenant);
    return tenantLines(core, [row]);
  }
  const lines = [lineOf(await core.publicRunner.status(publicTarget(core)), DEFAULT_HOST)];
  if (scope.only === 'everything') {
    lines.push(...(await tenantLines(core, await core.registry.list({ statuses: ['active', 'suspended'] }))));
  }
  return lines;
}
