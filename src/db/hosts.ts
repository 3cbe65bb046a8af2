/**
 * Database hosts (SPEC 7): `default` is DATABASE_URL, more come from TENANT_DATABASE_URLS.
 * One pg Pool (and one Kysely instance over it) per host, created lazily on first use — never one per
 * tenant, so 10,000 tenants on two hosts still use two pools.
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { isStalePlan, POOL_SATURATED } from './sqlstate.ts';

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
  /** Named prepared statements kept per connection (`runNamed`); default DEFAULT_STATEMENTS_PER_CONNECTION. */
  statementsPerConnection?: number;
  /** A connection is replaced after this many seconds (0: never); default 600. */
  maxLifetimeSeconds?: number;
  /**
   * A connection is replaced once it has served this many tenant schemas (0: never); default
   * DEFAULT_TENANTS_PER_CONNECTION. Counted on every checkout made for a schema (`schemaDb`).
   */
  tenantsPerConnection?: number;
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
  /** A connection of `pool` checked out for `schema` (`checkoutFor`): use this, not `pool.connect()`. */
  connect: () => Promise<pg.PoolClient>;
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
 * Named prepared statements kept per connection when the pool's options say nothing. Each costs its
 * backend its parse tree and plans — 20–170 kB for our hot statements, and one per tenant schema and
 * query shape — so an unbounded set grew one backend from 5 to 697 MB (issue 15). Past the limit the
 * least recently used one is deallocated (BENCHMARKS.md "PostgreSQL memory" measures the choice).
 */
export const DEFAULT_STATEMENTS_PER_CONNECTION = 100;

/**
 * Tenant schemas a connection serves before it is replaced. PostgreSQL keeps the catalog caches
 * (relcache, catcache) of every relation a backend touched until it exits — ~1 MB per tenant for the hot
 * reads alone (BENCHMARKS.md "PostgreSQL memory") — so a backend that served every tenant holds all of
 * them. Replacing it after N tenants bounds that, and costs nothing while a connection's tenants are few.
 */
export const DEFAULT_TENANTS_PER_CONNECTION = 30;

/** The statement and tenant limits of each client, set when its pool opens it (`DatabaseHosts.pool`). */
const statementLimits = new WeakMap<pg.ClientBase, number>();
const tenantLimits = new WeakMap<pg.ClientBase, number>();

/** The tenant schemas each client has served. */
const servedSchemas = new WeakMap<pg.ClientBase, Set<string>>();

/**
 * A connection of `pool` for work in `schema`. A connection that has now served its limit of tenant
 * schemas is destroyed instead of going back to the pool when released (pg-pool's `release(true)`), so
 * its backend exits and frees its caches; the pool opens a new one when needed.
 */
export async function checkoutFor(pool: pg.Pool, schema: string): Promise<pg.PoolClient> {
  const client = await pool.connect();
  const limit = tenantLimits.get(client) ?? 0;
  if (limit === 0) return client;
  let served = servedSchemas.get(client);
  if (!served) {
    served = new Set();
    servedSchemas.set(client, served);
  }
  served.add(schema);
  if (served.size >= limit) {
    const release = client.release;
    client.release = (error?: Error | boolean) => release(error ?? true);
  }
  return client;
}

/** The named statements prepared on each client, least recently used first. */
const heldStatements = new WeakMap<pg.ClientBase, Set<string>>();

/** node-postgres' own record of the statements parsed on a connection (it skips Parse for those). */
function parsedStatements(client: pg.ClientBase): Record<string, string> {
  return (client as unknown as { connection: { parsedStatements: Record<string, string> } }).connection
    .parsedStatements;
}

/** Deallocates one named statement on the server and in node-postgres' record of the connection. */
async function forget(client: pg.ClientBase, held: Set<string>, name: string): Promise<void> {
  held.delete(name);
  if (parsedStatements(client)[name] === undefined) return;
  delete parsedStatements(client)[name];
  await client.query(`DEALLOCATE ${quoteIdent(name)}`);
}

/**
 * THE way a hot statement runs (`SchemaStatement`, `runPrepared`): as a NAMED prepared statement, so
 * PostgreSQL parses and plans it once per connection instead of on every call (BENCHMARKS.md: planning
 * was most of PostgreSQL's CPU per request on the hot routes). The name is a hash of the text, which
 * carries the schema, so two schemas or two query shapes never share one.
 *
 * At most the pool's `statementsPerConnection` stay prepared on a connection; preparing one more first
 * deallocates the least recently used, so a backend's memory is bounded whatever the traffic. A statement
 * whose plan a migration made stale is deallocated and run again once — outside a transaction; inside one
 * (`onClientInTransaction`) the transaction has failed, and the connection is dropped and the whole
 * transaction retried instead.
 */
export async function runNamed<Row>(
  client: pg.ClientBase,
  text: string,
  values: readonly unknown[],
  inTransaction = false,
): Promise<Row[]> {
  const limit = statementLimits.get(client) ?? DEFAULT_STATEMENTS_PER_CONNECTION;
  // 0: no named statements at all (each call parsed and planned: the memory floor, for comparison).
  if (limit === 0) return (await client.query({ text, values: values as unknown[] })).rows as Row[];
  const name = preparedName(text);
  let held = heldStatements.get(client);
  if (!held) {
    held = new Set();
    heldStatements.set(client, held);
  }
  if (held.delete(name)) held.add(name);
  else {
    for (const oldest of held) {
      if (held.size < limit) break;
      await forget(client, held, oldest);
    }
    held.add(name);
  }
  const config = { name, text, values: values as unknown[] };
  try {
    return (await client.query(config)).rows as Row[];
  } catch (error) {
    // A failed Parse left nothing on the server; a failed Bind or Execute left the statement prepared.
    if (parsedStatements(client)[name] === undefined) held.delete(name);
    if (inTransaction || !isStalePlan(error)) throw error;
    await forget(client, held, name);
    held.add(name);
    return (await client.query(config)).rows as Row[];
  }
}

/** `runNamed` on a connection checked out for this one statement. */
async function bindingRows<Row>(
  binding: SchemaBinding,
  text: string,
  values: readonly unknown[],
): Promise<Row[]> {
  const client = await binding.connect();
  let failure: Error | undefined;
  try {
    return await runNamed<Row>(client, text, values);
  } catch (error) {
    // A connection that failed while deallocating (or lost its socket) is not reused.
    if (!(client as unknown as { _queryable?: boolean })._queryable) failure = error as Error;
    throw error;
  } finally {
    client.release(failure);
  }
}

/**
 * A hot statement of the tenant schemas with a fixed text (no shapes): `build(t)` returns the SQL with
 * `t('users')` standing for the schema-qualified, quoted table; values are always bound parameters. Runs
 * through `runNamed`, like `runPrepared`.
 */
export class SchemaStatement {
  private readonly texts = new Map<string, string>();

  constructor(private readonly build: (table: (name: string) => string) => string) {}

  /** The statement's text for one schema (tests and EXPLAIN). */
  text(schema: string): string {
    return (
      this.texts.get(schema) ??
      setBounded(
        this.texts,
        schema,
        this.build((name) => `${quoteIdent(schema)}.${quoteIdent(name)}`),
        MAX_SCHEMA_DBS,
      )
    );
  }

  /** The rows, typed by the caller after the statement's column list (as Kysely's `sql<Row>` does). */
  rows<Row>(binding: SchemaBinding, values: unknown[]): Promise<Row[]> {
    return bindingRows<Row>(binding, this.text(binding.schema), values);
  }

  /** The rows, on one checked-out client inside a transaction (src/db/transaction.ts). */
  rowsOn<Row>(client: pg.PoolClient, schema: string, values: unknown[]): Promise<Row[]> {
    return runNamed<Row>(client, this.text(schema), values, true);
  }

  /**
   * The rows, prepared when `db` is a schema-bound Kysely (`schemaDb`); on any other Kysely (a
   * transaction) the same text runs as an ordinary query on that connection.
   */
  run<Row>(db: AnyDb, schema: string, values: unknown[]): Promise<Row[]> {
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
 * Statement names by query text, so a hot text is hashed once. Bounded (a name is recomputed when
 * dropped): the keys are whole statement texts of a few kB each.
 */
const preparedNames = new Map<string, string>();
const MAX_PREPARED_NAMES = 5_000;

/** `q.<hash of the text>`: unique per text and under PostgreSQL's 63-byte names. */
function preparedName(text: string): string {
  return (
    preparedNames.get(text) ??
    setBounded(
      preparedNames,
      text,
      `q.${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`,
      MAX_PREPARED_NAMES,
    )
  );
}

/**
 * Runs SQL compiled for a schema-bound db (`schemaDb`) through `runNamed`, for hot paths whose SQL varies
 * with the request (filters, sort; `QueryTemplate`). On any other Kysely (a transaction, a test's logging
 * instance) the query runs as usual.
 */
export async function runPrepared<Row>(
  db: AnyDb,
  query: { sql: string; parameters: readonly unknown[] },
): Promise<Row[]> {
  const binding = schemaBinding(db);
  if (!binding) return (await db.executeQuery<Row>(CompiledQuery.raw(query.sql, [...query.parameters]))).rows;
  return bindingRows<Row>(binding, query.sql, query.parameters);
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
          // Bound what a long-lived backend accumulates beside its prepared statements: the catalog caches
          // (relcache, catcache) of every relation of every tenant it served (BENCHMARKS.md).
          maxLifetimeSeconds: this.options.maxLifetimeSeconds ?? 600,
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
      const statements = this.options.statementsPerConnection ?? DEFAULT_STATEMENTS_PER_CONNECTION;
      const tenants = this.options.tenantsPerConnection ?? DEFAULT_TENANTS_PER_CONNECTION;
      pool.on('connect', (client) => {
        client.on('error', () => {});
        statementLimits.set(client, statements);
        tenantLimits.set(client, tenants);
      });
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
      const pool = this.pool(host);
      const connect = () => checkoutFor(pool, schema);
      // Its own dialect over the host's pool, so that every checkout of this schema's work (queries,
      // transactions) counts toward the connection's tenants (`checkoutFor`); `end` is the host's.
      db = new Kysely({
        dialect: new PostgresDialect({ pool: { connect, end: async () => {} } }),
      }).withSchema(schema);
      bindings.set(db, { host, schema, pool, connect });
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
