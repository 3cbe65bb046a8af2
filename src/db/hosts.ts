/**
 * Database hosts (SPEC 7): `default` is DATABASE_URL, more come from TENANT_DATABASE_URLS.
 * One pg Pool (and one Kysely instance over it) per host, created lazily on first use — never one per
 * tenant, so 10,000 tenants on two hosts still use two pools.
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { POOL_SATURATED } from './sqlstate.ts';

export const DEFAULT_HOST = 'default';

export interface HostPoolOptions {
  /** Connections per host pool. */
  max?: number;
  /** Longest wait (ms) for a connection — a free pooled one, or a new one being opened. */
  waitMs?: number;
  /** Checkouts that may wait for a connection; past it, `connect()` fails at once (PoolSaturatedError). */
  maxWaiting?: number;
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

/** Where a schema-bound Kysely made by `DatabaseHosts.schemaDb` runs. */
export interface SchemaBinding {
  host: string;
  schema: string;
  pool: pg.Pool;
}

const bindings = new WeakMap<AnyDb, SchemaBinding>();

/**
 * The host pool and schema behind a Kysely from `schemaDb` (undefined for any other Kysely, e.g. a
 * transaction): hot paths use it to run `SchemaStatement`s, everything else keeps using Kysely.
 */
export function schemaBinding(db: AnyDb): SchemaBinding | undefined {
  return bindings.get(db);
}

/** Schema-bound Kysely instances kept per process (oldest dropped first; one is a few hundred bytes). */
const MAX_SCHEMA_DBS = 20_000;

/** Connections are replaced after this long, which also drops their prepared statements (both ends). */
const CONNECTION_LIFETIME_S = 600;

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `map.set(key, value)`, dropping the oldest entry past `limit` (a Map iterates in insertion order). */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): V {
  map.set(key, value);
  if (map.size > limit) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  return value;
}

/**
 * `<prefix>.<hash of the text>`: statements of different texts (schemas, shapes) never share a name on a
 * connection, and the name stays under PostgreSQL's 63 bytes.
 */
function statementName(prefix: string, text: string): string {
  return `${prefix}.${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
}

/**
 * One hot-path statement of the tenant schemas, run as a NAMED prepared statement: PostgreSQL parses and
 * plans it once per connection and schema instead of on every call (measured in BENCHMARKS.md: the auth
 * and user-page queries cost PostgreSQL most of its per-request CPU when planned each time), and no query
 * builder runs per request. The text comes from a fixed template with the schema quoted in; values are
 * always bound parameters. Statement names are `<key>.<hash of the text>`, so a schema's statements never
 * clash with another schema's on a shared connection, and stay under PostgreSQL's 63-byte names.
 */
export class SchemaStatement {
  private readonly prepared = new Map<string, pg.QueryConfig>();

  /** `build(t)` returns the SQL; `t('users')` is the schema-qualified, quoted table name. */
  constructor(
    private readonly key: string,
    private readonly build: (table: (name: string) => string) => string,
  ) {}

  /** The statement's text for one schema (tests and EXPLAIN). */
  text(schema: string): string {
    return this.build((name) => `${quoteIdent(schema)}.${quoteIdent(name)}`);
  }

  private config(schema: string): pg.QueryConfig {
    let config = this.prepared.get(schema);
    if (!config) {
      const text = this.text(schema);
      config = setBounded(
        this.prepared,
        schema,
        { name: statementName(this.key, text), text },
        MAX_SCHEMA_DBS,
      );
    }
    return config;
  }

  /** The rows, typed by the caller after the statement's column list (as Kysely's `sql<Row>` does). */
  async rows<Row>(binding: SchemaBinding, values: unknown[]): Promise<Row[]> {
    const result = await binding.pool.query({ ...this.config(binding.schema), values });
    return result.rows;
  }

  /** The rows, prepared on one checked-out client (inside a transaction it runs, src/db/transaction.ts). */
  async rowsOn<Row extends pg.QueryResultRow>(
    client: pg.PoolClient,
    schema: string,
    values: unknown[],
  ): Promise<Row[]> {
    const result = await client.query<Row>({ ...this.config(schema), values });
    return result.rows;
  }

  /**
   * The rows, prepared when `db` is a schema-bound Kysely (`schemaDb`); on any other Kysely (a
   * transaction) the same text runs as an ordinary query on that connection.
   */
  async run<Row>(db: AnyDb, schema: string, values: unknown[]): Promise<Row[]> {
    const binding = schemaBinding(db);
    if (binding) return this.rows<Row>(binding, values);
    return runPrepared<Row>(db, { sql: this.text(schema), parameters: values });
  }
}

/**
 * SQL text of a timestamp column as `2026-11-26T13:30:41.383Z`: exactly the text of the Date the driver
 * would have made and `toISOString()` would have written (`to_char(… 'MS')` truncates to milliseconds like
 * a JS Date), without parsing a Date on read or formatting one on write.
 */
export const ISO_TIMESTAMP_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
export const isoSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', ${ISO_TIMESTAMP_FORMAT})`;

/**
 * Statement names of `runPrepared` by query text, so a hot text is hashed once. Bounded (a name is
 * recomputed when dropped): the keys are whole statement texts of a few kB each.
 */
const preparedNames = new Map<string, string>();
const MAX_PREPARED_NAMES = 5_000;

function preparedName(text: string): string {
  return (
    preparedNames.get(text) ?? setBounded(preparedNames, text, statementName('q', text), MAX_PREPARED_NAMES)
  );
}

/**
 * Runs SQL compiled for a schema-bound db (`schemaDb`) as a NAMED prepared statement, for hot paths whose
 * SQL varies with the request (filters, sort) so a fixed `SchemaStatement` cannot hold it: PostgreSQL plans
 * each distinct text once per connection instead of on every call (the task page cost PostgreSQL ~2.5 ms of
 * CPU per request, mostly planning). The name is a hash of the text, which carries the schema, so two
 * schemas or two filter shapes never share one. On any other Kysely (a transaction, a test's logging
 * instance) the query runs as usual.
 */
export async function runPrepared<Row>(
  db: AnyDb,
  query: { sql: string; parameters: readonly unknown[] },
): Promise<Row[]> {
  const binding = schemaBinding(db);
  if (!binding) return (await db.executeQuery<Row>(CompiledQuery.raw(query.sql, [...query.parameters]))).rows;
  const result = await binding.pool.query({
    name: preparedName(query.sql),
    text: query.sql,
    values: query.parameters as unknown[],
  });
  return result.rows as Row[];
}

/** Refused checkout: `maxWaiting` requests already wait for a connection of this pool. */
export class PoolSaturatedError extends Error {
  override name = 'PoolSaturatedError';
  readonly code = POOL_SATURATED;
}

type ConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * A pg Pool whose queue is bounded (issue 14, BENCHMARKS.md "Overload"). pg-pool queues checkouts
 * without limit: when PostgreSQL is the bottleneck, every request waits its turn, latency grows with the
 * queue and so does memory (649 MB at 5,000 concurrent clients). Past `maxWaiting` waiting checkouts a
 * checkout fails at once, and the wait itself is bounded by `connectionTimeoutMillis`: both answer 503 +
 * Retry-After, so the requests that are served stay fast. `pool.query` checks out through `connect`,
 * so it is bounded too.
 */
class BoundedPool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    private readonly maxWaiting: number,
  ) {
    super(config);
  }

  private saturated(): boolean {
    return (
      this.waitingCount >= this.maxWaiting &&
      this.idleCount === 0 &&
      this.totalCount >= (this.options.max ?? 10)
    );
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    if (this.saturated()) {
      const error = new PoolSaturatedError(
        `${this.waitingCount} requests already wait for a database connection`,
      );
      if (!callback) return Promise.reject(error);
      process.nextTick(() => callback(error, undefined, () => {}));
      return undefined;
    }
    if (!callback) return super.connect();
    super.connect(callback);
    return undefined;
  }
}

export class DatabaseHosts {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly kyselys = new Map<string, AnyDb>();
  private readonly schemaDbs = new Map<string, AnyDb>();

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
      pool = new BoundedPool(
        {
          connectionString: this.url(host),
          max: this.options.max ?? 10,
          application_name: this.options.applicationName ?? 'tenantry',
          connectionTimeoutMillis: this.options.waitMs ?? 5_000,
          idleTimeoutMillis: 30_000,
          // Bounds what a long-lived connection accumulates: SchemaStatements prepared for every tenant it
          // served (memory in the server process and in its PostgreSQL backend).
          maxLifetimeSeconds: CONNECTION_LIFETIME_S,
        },
        this.options.maxWaiting ?? Number.POSITIVE_INFINITY,
      );
      // An idle client losing its connection (database restarted) must not crash the process; the pool
      // drops it and the next checkout reconnects.
      pool.on('error', () => {});
      // A CHECKED-OUT client has no 'error' listener (pg-pool removes its idle one), yet node-postgres
      // emits 'error' on the client when its socket fails — even while a query is active (EPIPE writing a
      // query to a Unix socket whose server went away: an uncaught exception, seen in
      // test/faults/connection-loss.test.ts). The query itself is rejected, the client is no longer
      // queryable and the pool drops it on release; this listener only keeps the process alive.
      pool.on('connect', (client) => client.on('error', () => {}));
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

  /**
   * The host's Kysely bound to `schema` (`withSchema`), made once per (host, schema) and reused by every
   * request of that tenant; `schemaBinding(db)` gives its pool and schema back for prepared statements.
   */
  schemaDb(host: string, schema: string): AnyDb {
    const key = `${host}/${schema}`;
    let db = this.schemaDbs.get(key);
    if (!db) {
      db = this.db(host).withSchema(schema);
      bindings.set(db, { host, schema, pool: this.pool(host) });
      setBounded(this.schemaDbs, key, db, MAX_SCHEMA_DBS);
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
    this.schemaDbs.clear();
    await Promise.all(pools.map((pool) => pool.end()));
  }
}
