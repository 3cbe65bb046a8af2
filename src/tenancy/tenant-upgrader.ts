/**
 * On-demand tenant upgrades (SPEC 5.3): a tenant whose registry revision is behind the code's head is
 * migrated before its first request is served. Concurrent first requests share ONE upgrade per tenant
 * (single-flight in this process; the runner's per-schema advisory lock serialises other processes, the
 * second of which then finds nothing to do).
 *
 * A request waits at most `maxWaitMs` for the upgrade; a longer one keeps running and the request gets
 * 503 + Retry-After instead of holding a socket for minutes.
 */
import type { DatabaseHosts } from '../db/hosts.ts';
import { isDatabaseUnavailable } from '../db/sqlstate.ts';
import { describeError } from '../migrations/fleet.ts';
import type { MigrationSet } from '../migrations/migration-set.ts';
import { type MigrationRunner, UnknownRevisionError } from '../migrations/runner.ts';
import type { TenantRegistry } from './registry.ts';
import type { CachedTenant, RegistryCache } from './registry-cache.ts';

/** Revisions between `revision` and the set's head; 0 when the revision is unknown to this code (ahead). */
export function revisionsBehind(set: MigrationSet, revision: string | null): number {
  if (revision === null) return set.migrations.length;
  const index = set.indexOf(revision);
  return index < 0 ? 0 : set.migrations.length - index - 1;
}

export class TenantUpgradeFailedError extends Error {
  override name = 'TenantUpgradeFailedError';
  constructor(
    readonly tenantId: string,
    override readonly cause: unknown,
  ) {
    super(`tenant "${tenantId}" could not be migrated: ${describeError(cause)}`);
  }
}

/** The upgrade is still running after the request's wait budget. */
export class TenantUpgradeTimeoutError extends Error {
  override name = 'TenantUpgradeTimeoutError';
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" is being upgraded`);
  }
}

export class TenantUpgrader {
  private readonly running = new Map<string, Promise<CachedTenant>>();

  constructor(
    private readonly deps: {
      hosts: DatabaseHosts;
      registry: TenantRegistry;
      runner: MigrationRunner;
      cache: RegistryCache;
    },
    private readonly maxWaitMs = 15_000,
  ) {}

  /**
   * Behind = the registry revision is an older revision of this code's chain. A revision this code does
   * not know means the database is AHEAD of the code (a rolling deploy): served as is, never touched. A
   * pinned tenant (downgraded on purpose) is served at its revision until an explicit upgrade.
   */
  isBehind(tenant: CachedTenant): boolean {
    const { set } = this.deps.runner;
    if (tenant.revision === set.head || tenant.pinned) return false;
    return tenant.revision === null || set.get(tenant.revision) !== undefined;
  }

  /** Upgrades the tenant to head (or joins the upgrade already running) and returns its fresh row. */
  async ensure(tenant: CachedTenant): Promise<CachedTenant> {
    let upgrade = this.running.get(tenant.tenantId);
    if (!upgrade) {
      upgrade = this.upgrade(tenant).finally(() => this.running.delete(tenant.tenantId));
      // The request may stop waiting (timeout); the upgrade's own outcome is recorded in the registry.
      upgrade.catch(() => {});
      this.running.set(tenant.tenantId, upgrade);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TenantUpgradeTimeoutError(tenant.tenantId)), this.maxWaitMs);
    });
    try {
      return await Promise.race([upgrade, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Upgrades still running (graceful shutdown waits for them). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  private async upgrade(tenant: CachedTenant): Promise<CachedTenant> {
    const { hosts, registry, runner, cache } = this.deps;
    try {
      const run = await runner.upgrade({
        host: tenant.host,
        db: hosts.db(tenant.host),
        schema: tenant.schema,
      });
      await registry.recordMigration(tenant.tenantId, { revision: run.to, status: 'ok', error: null });
    } catch (error) {
      if (error instanceof UnknownRevisionError) return tenant;
      // Unreachable database: not the tenant's fault; nothing recorded, the caller answers 503.
      if (isDatabaseUnavailable(error)) throw error;
      await registry
        .recordMigration(tenant.tenantId, {
          revision: tenant.revision,
          status: 'failed',
          error: describeError(error),
        })
        .catch(() => {});
      cache.invalidate(tenant.tenantId);
      throw new TenantUpgradeFailedError(tenant.tenantId, error);
    }
    const row = await registry.find(tenant.tenantId);
    if (!row) {
      cache.invalidate(tenant.tenantId);
      return { ...tenant, revision: runner.set.head, migrationStatus: 'ok' };
    }
    cache.put(row);
    return (await cache.get(tenant.tenantId)) ?? tenant;
  }
}
