/**
 * Host-level migrations (issue 13, "Every database host is ready for tenants"): what tenant revisions need
 * from each DATABASE they live in — extensions such as pg_trgm — as a revision set of its own
 * (src/migrations/host/), applied by the runner to every host and recorded per host in
 * `tenantry.schema_migrations` (`tenantry` is a reserved tenant id, so no tenant can take that schema).
 *
 * When: at start for every configured host (`Core.migratePublic`), and before any tenant upgrade or
 * creation on a host this process has not yet seen at head (`TenantMigrationRunner`), so a host added to
 * TENANT_DATABASE_URLS, or a fresh empty database, is ready before its first tenant arrives.
 */
import type { DatabaseHosts } from '../db/hosts.ts';
import type { MigrationSet } from '../migrations/migration-set.ts';
import {
  MigrationRunner,
  type RunnerOptions,
  type RunResult,
  type SchemaTarget,
} from '../migrations/runner.ts';

/** Schema of each host's version table for host-level revisions. */
export const HOST_SCHEMA = 'tenantry';

export class HostMigrations {
  /** Hosts brought to head by this process (a failed attempt is forgotten, so the next call retries). */
  private readonly ready = new Map<string, Promise<void>>();

  constructor(
    private readonly hosts: DatabaseHosts,
    readonly runner: MigrationRunner,
  ) {}

  target(host: string): SchemaTarget {
    return { host, db: this.hosts.db(host), schema: HOST_SCHEMA };
  }

  /** Upgrades one host's host-level revisions to head (once per process; later calls share it). */
  ensure(host: string): Promise<void> {
    let pending = this.ready.get(host);
    if (!pending) {
      pending = this.runner.upgrade(this.target(host)).then(() => undefined);
      pending.catch(() => this.ready.delete(host));
      this.ready.set(host, pending);
    }
    return pending;
  }

  /**
   * The default host (must succeed: it holds the registry), then every other host. Another host that
   * cannot be reached now does not stop the start: `ensure` runs again before any tenant work there.
   */
  async ensureAll(): Promise<void> {
    const [first, ...others] = this.hosts.names();
    if (first) await this.ensure(first);
    await Promise.allSettled(others.map((host) => this.ensure(host)));
  }
}

type UpgradeOptions = Parameters<MigrationRunner['upgrade']>[1];

/** The tenant runner: the host's host-level revisions come first, then the tenant's own. */
export class TenantMigrationRunner extends MigrationRunner {
  constructor(
    set: MigrationSet,
    options: RunnerOptions | undefined,
    private readonly hostLevel: HostMigrations,
  ) {
    super(set, options);
  }

  override async upgrade(target: SchemaTarget, options: UpgradeOptions = {}): Promise<RunResult> {
    if (!options.dryRun) await this.hostLevel.ensure(target.host);
    return super.upgrade(target, options);
  }
}
