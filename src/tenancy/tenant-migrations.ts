/**
 * Migrating one tenant and recording the outcome in the registry — shared by the CLI
 * (`tenantry db upgrade --tenant x`) and the control center (`POST /cc/tenants/{id}/migrate`).
 * A dry run records nothing. A downgrade pins the tenant at its new revision (no automatic upgrade: the
 * server and fleet runs leave it alone); an explicit upgrade unpins it.
 */
import type { Core } from '../core.ts';
import { describeError } from '../migrations/fleet.ts';
import {
  MigrationFailedError,
  type RunResult,
  SchemaGoneError,
  UnknownRevisionError,
} from '../migrations/runner.ts';
import { aheadOutcome, type TenantRow } from './registry.ts';
import { assertTenantId } from './tenant-id.ts';
import { TenantNotFoundError } from './tenant-service.ts';

export async function findTenantOrThrow(core: Core, tenantId: string): Promise<TenantRow> {
  const tenant = await core.registry.find(assertTenantId(tenantId));
  if (!tenant) throw new TenantNotFoundError(tenantId);
  return tenant;
}

function targetOf(core: Core, tenant: TenantRow) {
  return { host: tenant.host, db: core.hosts.db(tenant.host), schema: tenant.tenant_id };
}

async function recorded(
  core: Core,
  tenant: TenantRow,
  dryRun: boolean,
  pinned: boolean,
  run: () => Promise<RunResult>,
): Promise<RunResult> {
  try {
    const result = await run();
    if (!dryRun)
      await core.registry.recordMigration(tenant.tenant_id, {
        revision: result.to,
        status: 'ok',
        error: null,
        pinned,
      });
    return result;
  } catch (error) {
    // The schema vanished under us: the tenant was deleted meanwhile; nothing to record.
    if (error instanceof SchemaGoneError) throw new TenantNotFoundError(tenant.tenant_id);
    // A database newer than the code is not a failure: record the schema's real revision, status ok.
    if (!dryRun && error instanceof UnknownRevisionError)
      await core.registry.recordMigration(tenant.tenant_id, aheadOutcome(error.revisions));
    // Only a revision that failed marks the tenant failed; a bad request such as "target is behind
    // current" says nothing about the tenant's state.
    if (!dryRun && error instanceof MigrationFailedError) {
      await core.registry.recordMigration(tenant.tenant_id, {
        revision: tenant.revision,
        status: 'failed',
        error: describeError(error),
      });
    }
    throw error;
  }
}

export async function upgradeTenant(
  core: Core,
  tenantId: string,
  options: { to?: string; dryRun?: boolean } = {},
): Promise<RunResult> {
  const tenant = await findTenantOrThrow(core, tenantId);
  return recorded(core, tenant, options.dryRun ?? false, false, () =>
    core.tenantRunner.upgrade(targetOf(core, tenant), {
      to: options.to,
      dryRun: options.dryRun,
      mustExist: true,
    }),
  );
}

export async function downgradeTenant(
  core: Core,
  tenantId: string,
  options: { steps?: number; to?: string; dryRun?: boolean; allowDataLoss?: boolean },
): Promise<RunResult> {
  const tenant = await findTenantOrThrow(core, tenantId);
  return recorded(core, tenant, options.dryRun ?? false, true, () =>
    core.tenantRunner.downgrade(targetOf(core, tenant), options),
  );
}
