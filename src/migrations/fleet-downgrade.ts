/**
 * `tenantry db downgrade <-N|rev|base> --all [--tenants a,b]`: the fleet downgrade, tenant by tenant with
 * bounded concurrency, under the rules of a single downgrade: each tenant's downgrade is one transaction;
 * one that would drop tables or columns holding rows is refused for that tenant (the others go on) unless
 * the tenant is named in `confirm`; every downgraded tenant is pinned (no automatic upgrade until an
 * explicit one). The public schema is never touched.
 */
import type { DatabaseHosts } from '../db/hosts.ts';
import type { TenantRegistry } from '../tenancy/registry.ts';
import { describeError, mapBounded } from './fleet.ts';
import { DataLossError, type DroppedData, MigrationFailedError, type MigrationRunner } from './runner.ts';

export type FleetDowngradeOutcome = 'downgraded' | 'would_downgrade' | 'refused' | 'failed';

export interface FleetDowngradeResult {
  tenant_id: string;
  host: string;
  outcome: FleetDowngradeOutcome;
  from: string | null;
  to: string | null;
  reverted: string[];
  /** Tables/columns holding rows that are (or would be, or were refused to be) dropped. */
  drops: DroppedData[];
  error: string | null;
}

export interface FleetDowngradeReport {
  dry_run: boolean;
  total: number;
  downgraded: number;
  would_downgrade: number;
  refused: number;
  failed: number;
  results: FleetDowngradeResult[];
}

export async function downgradeFleet(
  hosts: DatabaseHosts,
  registry: TenantRegistry,
  runner: MigrationRunner,
  options: {
    steps?: number;
    to?: string;
    dryRun?: boolean;
    tenants?: string[];
    host?: string;
    /** Tenants whose downgrade may drop data. */
    confirm?: string[];
    concurrency?: number;
  },
): Promise<FleetDowngradeReport> {
  const tenants = await registry.list({
    tenants: options.tenants,
    host: options.host,
    statuses: ['active', 'suspended'],
  });
  const results = await mapBounded(tenants, Math.max(1, options.concurrency ?? 4), async (tenant) => {
    const base = { tenant_id: tenant.tenant_id, host: tenant.host, from: tenant.revision };
    if (!hosts.has(tenant.host)) {
      return {
        ...base,
        outcome: 'failed' as const,
        to: null,
        reverted: [],
        drops: [],
        error: `host "${tenant.host}" is not configured (TENANT_DATABASE_URLS)`,
      };
    }
    try {
      const run = await runner.downgrade(
        { host: tenant.host, db: hosts.db(tenant.host), schema: tenant.tenant_id },
        {
          steps: options.steps,
          to: options.to,
          dryRun: options.dryRun,
          allowDataLoss: options.confirm?.includes(tenant.tenant_id) ?? false,
        },
      );
      if (!options.dryRun) {
        await registry.recordMigration(tenant.tenant_id, {
          revision: run.to,
          status: 'ok',
          error: null,
          pinned: true,
        });
      }
      return {
        ...base,
        from: run.from,
        outcome: options.dryRun ? ('would_downgrade' as const) : ('downgraded' as const),
        to: run.to,
        reverted: run.steps.map((s) => s.revision),
        drops: run.drops ?? [],
        error: null,
      };
    } catch (error) {
      if (error instanceof DataLossError) {
        return {
          ...base,
          outcome: 'refused' as const,
          to: null,
          reverted: [],
          drops: error.drops,
          error: `${error.message}; confirm with --confirm ${tenant.tenant_id}`,
        };
      }
      if (error instanceof MigrationFailedError && !options.dryRun) {
        await registry
          .recordMigration(tenant.tenant_id, {
            revision: tenant.revision,
            status: 'failed',
            error: describeError(error),
          })
          .catch(() => {});
      }
      return {
        ...base,
        outcome: 'failed' as const,
        to: null,
        reverted: [],
        drops: [],
        error: describeError(error),
      };
    }
  });
  const count = (outcome: FleetDowngradeOutcome) => results.filter((r) => r.outcome === outcome).length;
  return {
    dry_run: options.dryRun ?? false,
    total: results.length,
    downgraded: count('downgraded'),
    would_downgrade: count('would_downgrade'),
    refused: count('refused'),
    failed: count('failed'),
    results,
  };
}
