/**
 * Database hosts (SPEC 7): `default` is DATABASE_URL, more come from TENANT_DATABASE_URLS.
 * One pg Pool (and one Kysely instance over it) per host, created lazily on first use — never one per
 * tenant, so 10,000 tenants on two hosts still use two pools.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

export const DEFAULT_HOST = 'default';

export interface HostPoolOptions {
  /** Connections per host pool. */
  max?: number;
  /** Name shown in pg_stat_activity.application_name. */
  applicationName?: string;
}

export class UnknownHostError extends Error {
  override name = 'UnknownHostError';
  constructor(readonly host: string) {
    super(`unknown database host "${host}"`);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: Kysely without a static schema type; tables are per schema.
export type AnyDb = Kysely<any>;

export class DatabaseHosts {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly kyselys = new Map<string, AnyDb>();

  constructor(
    private readonly urls: Readonly<Record<string, string>>,
    private readonly options: HostPoolOptions = {},
  ) {}

  /** Host names, `default` first. */
  names(): string[] {
    return Object.keys(this.urls).sort((a, b) =>
      a === DEFAULT_HOST ? -1 : b === DEFAULT_HOST ? 1 : a.localeCompare(b),
    );
  }

  has(host: string): boolean {
    return Object.hasOwn(this.urls, host);
  }

  url(host: string): string {
    if (!this.has(host)) throw new UnknownHostError(host);
    return this.urls[host] as string;
  }

  pool(host: string = DEFAULT_HOST): pg.Pool {
    let pool = this.pools.get(host);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: this.url(host),
        max: this.options.max ?? 10,
        application_name: this.options.applicationName ?? 'tenantry',
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 30_000,
      });
      // An idle client losing its connection (database restarted) must not crash the process; the pool
      // drops it and the next checkout reconnects.
      pool.on('error', () => {});
      this.pools.set(host, pool);
    }
    return pool;
  }

  db(host: string = DEFAULT_HOST): AnyDb {
    let db = this.kyselys.get(host);
    if (!db) {
      db = new Kysely({ dialect: new PostgresDialect({ pool: this.pool(host) }) });
      this.kyselys.set(host, db);
    }
    return db;
  }

  /** Pools created so far (for tests and metrics). */
  openPools(): string[] {
    return [...this.pools.keys()];
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.kyselys.clear();
    await Promise.all(pools.map((pool) => pool.end()));
  }
}
