/**
 * On-demand tenant upgrades (SPEC 5.3): a tenant whose registry revision is behind the code's head is
 * migrated before its first request is served. Concurrent first requests share ONE upgrade per tenant
 * (single-flight in this process; the runner's per-schema advisory lock serialises other processes, the
 * second of which then finds nothing to do).
 *
 * Upgrades run on connections of their own (one small pool per host, `application_name`
 * tenantry-upgrader), at most `concurrency` at once; the others queue. A burst of requests naming many
 * tenants behind head therefore holds at most `concurrency` connections, and requests for tenants at head
 * keep the whole request pool (issue 14).
 *
 * A request waits at most `maxWaitMs` for the upgrade (queueing included); a longer one keeps running and
 * the request gets 503 + Retry-After instead of holding a socket for minutes.
 *
 * An upgrade never creates a schema (`mustExist`): a tenant deleted while its upgrade waited is reported
 * gone (TenantGoneError → 404), not resurrected as an empty schema.
 */
import { DatabaseHosts } from '../db/hosts.ts';
import { isDatabaseUnavailable } from '../db/sqlstate.ts';
import { describeError } from '../migrations/fleet.ts';
import type { MigrationSet } from '../migrations/migration-set.ts';
import { type MigrationRunner, SchemaGoneError, UnknownRevisionError } from '../migrations/runner.ts';
import { aheadOutcome, type TenantRegistry } from './registry.ts';
import type { CachedTenant, RegistryCache } from './registry-cache.ts';

/** Revisions between `revision` and the set's head; null when the revision is unknown to this code (ahead). */
export function revisionsBehind(set: MigrationSet, revision: string | null): number | null {
  if (revision === null) return set.migrations.length;
  const index = set.indexOf(revision);
  return index < 0 ? null : set.migrations.length - index - 1;
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

/** The tenant's schema or registry row vanished while it was being upgraded: it was deleted. */
export class TenantGoneError extends Error {
  override name = 'TenantGoneError';
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" was deleted`);
  }
}

export interface TenantUpgraderOptions {
  /** Longest a request waits for its tenant's upgrade, queueing included (default 15 s). */
  maxWaitMs?: number;
  /** Upgrades running at once in this process, and connections per host they may use (default 2). */
  concurrency?: number;
}

export class TenantUpgrader {
  private readonly running = new Map<string, Promise<CachedTenant>>();
  /** Upgrade pools: one per host, `concurrency` connections each, never the request pools. */
  private readonly pools: DatabaseHosts;
  private readonly maxWaitMs: number;
  private readonly concurrency: number;
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly deps: {
      hosts: DatabaseHosts;
      registry: TenantRegistry;
      runner: MigrationRunner;
      cache: RegistryCache;
    },
    options: TenantUpgraderOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? 15_000;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    const urls = Object.fromEntries(deps.hosts.names().map((name) => [name, deps.hosts.url(name)]));
    this.pools = new DatabaseHosts(urls, { max: this.concurrency, applicationName: 'tenantry-upgrader' });
  }

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

  /** Upgrades still running (graceful shutdown waits for them), then the upgrade pools. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
    await this.pools.close();
  }

  /** Runs `work` once fewer than `concurrency` upgrades are running (first come, first served). */
  private async bounded<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.queue.shift();
      // The slot passes straight to the next in line, so `active` never drops below the queue's needs.
      if (next) next();
      else this.active--;
    }
  }

  private async upgrade(tenant: CachedTenant): Promise<CachedTenant> {
    const { registry, runner, cache } = this.deps;
    try {
      const run = await this.bounded(() =>
        runner.upgrade(
          { host: tenant.host, db: this.pools.db(tenant.host), schema: tenant.schema },
          { mustExist: true },
        ),
      );
      await registry.recordMigration(tenant.tenantId, { revision: run.to, status: 'ok', error: null });
    } catch (error) {
      if (error instanceof SchemaGoneError) {
        cache.invalidate(tenant.tenantId);
        throw new TenantGoneError(tenant.tenantId);
      }
      if (error instanceof UnknownRevisionError) {
        // The database is newer than the code: served as is, and recorded so no request retries this.
        await registry.recordMigration(tenant.tenantId, aheadOutcome(error.revisions));
        return this.reread(tenant.tenantId);
      }
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
    return this.reread(tenant.tenantId);
  }

  /**
   * The tenant's row after we changed it, read through the cache: forget the old entry, then look up
   * again. A cache lookup is dropped when an invalidation (a NOTIFY of a deletion) races it, where storing
   * a row we had read ourselves (`put`) would bring a just-deleted tenant back into the cache.
   */
  private async reread(tenantId: string): Promise<CachedTenant> {
    this.deps.cache.invalidate(tenantId);
    const row = await this.deps.cache.get(tenantId);
    if (!row) throw new TenantGoneError(tenantId);
    return row;
  }
}
