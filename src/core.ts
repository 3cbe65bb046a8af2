/**
 * The parts every entry point (server, CLI, tests, benchmarks) shares, built once from a Config:
 * database hosts, migration sets and runners, the tenant registry and lifecycle service.
 */
import type { Config } from './config.ts';
import { DatabaseHosts, DEFAULT_HOST } from './db/hosts.ts';
import { loadMigrationSet } from './migrations/migration-set.ts';
import { MigrationRunner, type RunnerOptions } from './migrations/runner.ts';
import { TenantDomains } from './tenancy/domains.ts';
import { HostMigrations, TenantMigrationRunner } from './tenancy/host-migrations.ts';
import { Placement } from './tenancy/placement.ts';
import { TenantRegistry } from './tenancy/registry.ts';
import { SchemaPool } from './tenancy/schema-pool.ts';
import { TenantService } from './tenancy/tenant-service.ts';

export interface Core {
  config: Config;
  hosts: DatabaseHosts;
  publicRunner: MigrationRunner;
  tenantRunner: MigrationRunner;
  /** Host-level revisions (extensions tenant revisions need), applied to every host. */
  hostMigrations: HostMigrations;
  registry: TenantRegistry;
  tenants: TenantService;
  /** Warm tenant schemas on the default host (SCHEMA_POOL_SIZE). */
  schemaPool: SchemaPool;
  /** Tenant domains for routing by Host (issue 21). */
  domains: TenantDomains;
  /**
   * Brings every host's host-level revisions, then the public schema, to head; the server refuses to
   * serve if this fails.
   */
  migratePublic(): Promise<void>;
  close(): Promise<void>;
}

export interface CoreOptions {
  /** URL of the default host (DATABASE_URL or the embedded server). */
  defaultDatabaseUrl: string;
  poolSize?: number;
  runner?: RunnerOptions;
  /** Folders of the migration sets (tests point these at fixtures). */
  migrationFolders?: { public?: string; tenant?: string };
}

export async function openCore(config: Config, options: CoreOptions): Promise<Core> {
  const hosts = new DatabaseHosts(
    { [DEFAULT_HOST]: options.defaultDatabaseUrl, ...config.tenantDatabaseUrls },
    {
      max: options.poolSize ?? 10,
      waitMs: config.databasePoolWaitMs,
      maxWaiting: config.databasePoolQueue,
      statementsPerConnection: config.databaseStatementsPerConnection,
      maxLifetimeSeconds: config.databaseConnectionLifetimeS,
      tenantsPerConnection: config.databaseTenantsPerConnection,
    },
  );
  const [publicSet, tenantSet, hostSet] = await Promise.all([
    loadMigrationSet('public', options.migrationFolders?.public),
    loadMigrationSet('tenant', options.migrationFolders?.tenant),
    loadMigrationSet('host'),
  ]);
  const publicRunner = new MigrationRunner(publicSet, options.runner);
  const hostMigrations = new HostMigrations(hosts, new MigrationRunner(hostSet, options.runner));
  const tenantRunner = new TenantMigrationRunner(tenantSet, options.runner, hostMigrations);
  const registry = new TenantRegistry(hosts.db(DEFAULT_HOST));
  const placement = new Placement(config.tenantPlacement, { hosts, hostMigrations });
  const schemaPool = new SchemaPool(hosts, tenantRunner, config.schemaPoolSize);
  const tenants = new TenantService(hosts, registry, tenantRunner, placement, schemaPool);
  return {
    config,
    hosts,
    publicRunner,
    tenantRunner,
    hostMigrations,
    registry,
    tenants,
    schemaPool,
    domains: new TenantDomains(hosts.db(DEFAULT_HOST), config.tenantBaseDomain),
    async migratePublic() {
      await hostMigrations.ensureAll();
      await publicRunner.upgrade({ host: DEFAULT_HOST, db: hosts.db(DEFAULT_HOST), schema: 'public' });
    },
    close: () => hosts.close(),
  };
}
