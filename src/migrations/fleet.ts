/**
 * Fleet operations over every tenant (SPEC 5.2 "Fleet"): which tenants are behind, and upgrading them
 * with bounded concurrency.
 *
 * One cheap query per host and 1,000 tenants reads their real version tables at once (through
 * query_to_xml, so no helper function has to be installed), which makes a no-op run over 10,000 tenants a
 * matter of seconds: only tenants that are not at the target get a transaction of their own. One tenant's failure
 * never stops the others; each outcome is written to the registry.
 */
import { sql } from 'kysely';
import type { DatabaseHosts } from '../db/hosts.ts';
import { aheadOutcome, type TenantFilter, type TenantRegistry, type TenantRow } from '../tenancy/registry.ts';
import {
  MigrationFailedError,
  type MigrationRunner,
  SchemaGoneError,
  UnknownRevisionError,
} from './runner.ts';

/**
 * `deleted`: the tenant was deleted while the run was busy elsewhere (its schema is gone); nothing was
 * touched. `ahead`: its schema holds revisions this code does not know; recorded as is, not a failure.
 */
export type FleetOutcome =
  | 'upgraded'
  | 'up_to_date'
  | 'would_upgrade'
  | 'failed'
  | 'skipped'
  | 'deleted'
  | 'ahead';

export interface FleetTenantResult {
  tenant_id: string;
  host: string;
  outcome: FleetOutcome;
  from: string | null;
  to: string | null;
  applied: string[];
  error: string | null;
  duration_ms: number;
}

export interface FleetOptions extends TenantFilter {
  /** `head` or a revision (prefix). */
  target?: string;
  dryRun?: boolean;
  /** Upgrades in flight at once (default 4). */
  concurrency?: number;
  onProgress?: (done: number, total: number, last: FleetTenantResult) => void;
}

export interface FleetReport {
  target: string | null;
  dry_run: boolean;
  total: number;
  upgraded: number;
  up_to_date: number;
  would_upgrade: number;
  failed: number;
  /** Pinned tenants left alone (downgraded on purpose, not named). */
  skipped: number;
  duration_ms: number;
  results: FleetTenantResult[];
}

/**
 * Schemas per version query. Each schema's version table (and its primary key, opened by the planner) is
 * locked until the statement's transaction ends, and the server's lock table is shared and small —
 * 6,400 entries with PostgreSQL's defaults — so one statement over 10,000 schemas fails with "out of shared
 * memory". 1,000 schemas hold ~2,000 locks for a moment; each chunk is its own statement (autocommit).
 */
export const VERSION_QUERY_CHUNK = 1_000;

/** Per host: schema → number of applied revisions and whether `target` is among them. */
export async function readVersionsOnHost(
  hosts: DatabaseHosts,
  host: string,
  schemas: string[],
  target: string | null,
): Promise<Map<string, { applied: number; hasTarget: boolean }>> {
  const versions = new Map<string, { applied: number; hasTarget: boolean }>();
  for (let start = 0; start < schemas.length; start += VERSION_QUERY_CHUNK) {
    const chunk = schemas.slice(start, start + VERSION_QUERY_CHUNK);
    const result = await sql<{ schema: string; applied: number; has_target: number }>`
      SELECT n.nspname AS schema,
             (xpath('/row/n/text()', x))[1]::text::int AS applied,
             (xpath('/row/h/text()', x))[1]::text::int AS has_target
      FROM pg_namespace n
      CROSS JOIN LATERAL query_to_xml(
        format('SELECT count(*) AS n, count(*) FILTER (WHERE revision = %L) AS h FROM %I.schema_migrations',
               ${target ?? ''}::text, n.nspname),
        false, true, '') AS x
      WHERE n.nspname = ANY(${chunk}::text[])
        AND to_regclass(format('%I.schema_migrations', n.nspname)) IS NOT NULL`.execute(hosts.db(host));
    for (const row of result.rows)
      versions.set(row.schema, { applied: row.applied, hasTarget: row.has_target > 0 });
  }
  return versions;
}

/** Runs `work` over `items` with at most `limit` in flight, preserving input order in the result. */
export async function mapBounded<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function describeError(error: unknown): string {
  if (error instanceof MigrationFailedError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export async function upgradeFleet(
  hosts: DatabaseHosts,
  registry: TenantRegistry,
  runner: MigrationRunner,
  options: FleetOptions = {},
): Promise<FleetReport> {
  const started = performance.now();
  const target = runner.set.resolve(options.target ?? 'head');
  const targetCount = target === null ? 0 : runner.set.indexOf(target) + 1;
  const tenants = await registry.list({
    tenants: options.tenants,
    host: options.host,
    onlyFailed: options.onlyFailed,
    statuses: ['active', 'suspended'],
  });

  const byHost = new Map<string, TenantRow[]>();
  for (const tenant of tenants) {
    // Appending in place: copying the group on every tenant was quadratic over a 10,000-tenant fleet.
    const group = byHost.get(tenant.host);
    if (group) group.push(tenant);
    else byHost.set(tenant.host, [tenant]);
  }

  const results: FleetTenantResult[] = [];
  const pending: TenantRow[] = [];
  for (const [host, group] of byHost) {
    if (!hosts.has(host)) {
      for (const tenant of group) {
        results.push(
          resultOf(tenant, 'failed', { error: `host "${host}" is not configured (TENANT_DATABASE_URLS)` }),
        );
      }
      continue;
    }
    const versions = await readVersionsOnHost(
      hosts,
      host,
      group.map((t) => t.tenant_id),
      target,
    );
    const fixups: TenantRow[] = [];
    for (const tenant of group) {
      // A tenant downgraded on purpose is upgraded only when the run names it (an explicit upgrade).
      if (tenant.pinned_at !== null && !options.tenants?.includes(tenant.tenant_id)) {
        results.push(
          resultOf(tenant, 'skipped', {
            to: tenant.revision,
            error: `pinned at ${tenant.revision ?? 'base'} by a downgrade; name it (--tenants) to upgrade`,
          }),
        );
        continue;
      }
      const version = versions.get(tenant.tenant_id);
      const atTarget =
        version !== undefined && version.applied === targetCount && (target === null || version.hasTarget);
      if (atTarget && tenant.migration_status !== 'failed') {
        results.push(resultOf(tenant, 'up_to_date', { from: target, to: target }));
        if (tenant.revision !== target || tenant.migration_status !== 'ok') fixups.push(tenant);
      } else {
        pending.push(tenant);
      }
    }
    if (!options.dryRun) {
      for (const tenant of fixups)
        await registry.recordMigration(tenant.tenant_id, { revision: target, status: 'ok', error: null });
    }
  }

  let done = results.length;
  const total = tenants.length;
  const upgraded = await mapBounded(pending, Math.max(1, options.concurrency ?? 4), async (tenant) => {
    const began = performance.now();
    let result: FleetTenantResult;
    try {
      const run = await runner.upgrade(
        { host: tenant.host, db: hosts.db(tenant.host), schema: tenant.tenant_id },
        { to: target ?? 'base', dryRun: options.dryRun, mustExist: true },
      );
      result = resultOf(
        tenant,
        options.dryRun ? 'would_upgrade' : run.steps.length ? 'upgraded' : 'up_to_date',
        {
          from: run.from,
          to: run.to,
          applied: run.steps.map((s) => s.revision),
        },
      );
      if (options.dryRun && run.steps.length === 0) result.outcome = 'up_to_date';
      if (!options.dryRun) {
        await registry.recordMigration(tenant.tenant_id, {
          revision: run.to,
          status: 'ok',
          error: null,
          ...(tenant.pinned_at === null ? {} : { pinned: false }),
        });
      }
    } catch (error) {
      if (error instanceof SchemaGoneError) {
        result = resultOf(tenant, 'deleted', {});
        options.onProgress?.(++done, total, result);
        return result;
      }
      if (error instanceof UnknownRevisionError) {
        const ahead = aheadOutcome(error.revisions);
        result = resultOf(tenant, 'ahead', {
          from: ahead.revision,
          to: ahead.revision,
          error: error.message,
        });
        if (!options.dryRun) await registry.recordMigration(tenant.tenant_id, ahead).catch(() => {});
        options.onProgress?.(++done, total, result);
        return result;
      }
      result = resultOf(tenant, 'failed', { error: describeError(error) });
      if (!options.dryRun) {
        await registry
          .recordMigration(tenant.tenant_id, {
            revision: tenant.revision,
            status: 'failed',
            error: result.error,
          })
          .catch(() => {});
      }
    }
    result.duration_ms = Math.round(performance.now() - began);
    options.onProgress?.(++done, total, result);
    return result;
  });
  results.push(...upgraded);
  results.sort((a, b) => a.tenant_id.localeCompare(b.tenant_id));

  const count = (outcome: FleetOutcome) => results.filter((r) => r.outcome === outcome).length;
  return {
    target,
    dry_run: options.dryRun ?? false,
    total,
    upgraded: count('upgraded'),
    up_to_date: count('up_to_date'),
    would_upgrade: count('would_upgrade'),
    failed: count('failed'),
    skipped: count('skipped'),
    duration_ms: Math.round(performance.now() - started),
    results,
  };
}

function resultOf(
  tenant: TenantRow,
  outcome: FleetOutcome,
  details: Partial<Omit<FleetTenantResult, 'tenant_id' | 'host' | 'outcome'>>,
): FleetTenantResult {
  return {
    tenant_id: tenant.tenant_id,
    host: tenant.host,
    outcome,
    from: details.from ?? tenant.revision,
    to: details.to ?? null,
    applied: details.applied ?? [],
    error: details.error ?? null,
    duration_ms: details.duration_ms ?? 0,
  };
}
