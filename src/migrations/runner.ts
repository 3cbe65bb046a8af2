/**
 * The per-schema migration runner (SPEC 5.2).
 *
 * Every operation on a schema is one transaction on one connection:
 *   BEGIN → statement_timeout → pg_advisory_xact_lock(database identity + schema) → lock_timeout → work
 *   → COMMIT
 * (or ROLLBACK for a dry run). The advisory lock is per schema, never database-wide, so runners on
 * different schemas proceed in parallel while two runners on one schema serialise: the second waits,
 * then re-reads the version table and finds nothing to do. The lock key is 64 bits computed BY THE SERVER
 * from its system identifier, the database's oid and the schema name, so two configured names for one
 * database (a host alias, a socket and a TCP address) still exclude each other.
 *
 * A revision whose `up`/`down` is SQL text is sent as one simple-protocol query (one round trip, whatever
 * it holds) with search_path set to the schema; a revision written as a function (it has logic: it reads
 * results, catches errors) runs statement by statement on the transaction's connection, exactly as it is
 * written. Nothing is recorded or re-parsed. `standard_conforming_strings` is set on locally, so a
 * backslash in a revision's string literal means the same on every server.
 *
 * Each schema keeps its own `schema_migrations(revision, name, applied_at, duration_ms, checksum)`.
 * Applied revisions always form a prefix of the chain; the current revision is its last element.
 */
import { sql } from 'kysely';
import { escapeLiteral } from 'pg';
import type { AnyDb } from '../db/hosts.ts';
import { SQLSTATE, sqlState } from '../db/sqlstate.ts';
import { comparableChecksum } from './checksum.ts';
import type { Migration, MigrationSet } from './migration-set.ts';

export interface RunnerOptions {
  /** Longest wait for another runner on the same schema. */
  advisoryLockTimeoutMs?: number;
  /** `lock_timeout` for the DDL itself once we hold the schema lock. */
  lockTimeoutMs?: number;
  /** `statement_timeout` for each statement of a migration. */
  statementTimeoutMs?: number;
}

export interface SchemaTarget {
  /** Configured host name (reports, registry); the lock key uses the database's own identity instead. */
  host: string;
  /** Kysely over that host's pool. */
  db: AnyDb;
  /** Validated schema name. */
  schema: string;
}

export interface AppliedRow {
  revision: string;
  name: string;
  applied_at: Date;
  duration_ms: number | null;
  checksum: string | null;
}

export interface StepResult {
  revision: string;
  name: string;
  description: string;
  durationMs: number;
}

export interface RunResult {
  schema: string;
  from: string | null;
  to: string | null;
  dryRun: boolean;
  steps: StepResult[];
  durationMs: number;
  /** Downgrades: the tables and columns that held rows and are (or, dry run, would be) dropped. */
  drops?: DroppedData[];
}

/** A table (column null) or a column that a downgrade drops, and how many rows (non-null values) it held. */
export interface DroppedData {
  table: string;
  column: string | null;
  rows: number;
}

export const describeDrops = (drops: DroppedData[]) =>
  drops
    .map((d) =>
      d.column === null
        ? `table ${d.table} (${d.rows} rows)`
        : `column ${d.table}.${d.column} (${d.rows} values)`,
    )
    .join(', ');

/** A downgrade would destroy data and was not confirmed. */
export class DataLossError extends Error {
  override name = 'DataLossError';
  constructor(
    readonly schema: string,
    readonly drops: DroppedData[],
  ) {
    super(`downgrading "${schema}" would drop ${describeDrops(drops)}; nothing was changed`);
  }
}

export interface SchemaStatus {
  schema: string;
  exists: boolean;
  current: string | null;
  head: string | null;
  behind: number;
  pending: string[];
  /** Revisions recorded in the schema that this code does not know (database ahead of code). */
  unknown: string[];
  /** Applied revisions whose file changed since they were applied. */
  drifted: string[];
}

/** The schema records revisions this code does not have: the database is ahead of the code. */
export class UnknownRevisionError extends Error {
  override name = 'UnknownRevisionError';
  constructor(
    readonly schema: string,
    readonly revisions: string[],
  ) {
    super(
      `schema "${schema}" is at revision(s) ${revisions.join(', ')} unknown to this code (the database is newer than the code); nothing was changed`,
    );
  }
}

/** A revision's up/down threw; carries the real PostgreSQL error and which revision failed. */
export class MigrationFailedError extends Error {
  override name = 'MigrationFailedError';
  constructor(
    readonly schema: string,
    readonly revision: string,
    readonly migrationName: string,
    override readonly cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const code =
      cause && typeof cause === 'object' && 'code' in cause ? ` [SQLSTATE ${String(cause.code)}]` : '';
    super(`${migrationName} failed on schema "${schema}": ${reason}${code}`);
  }
}

export class RunnerInputError extends Error {
  override name = 'RunnerInputError';
}

/**
 * `mustExist` was asked (fleet and on-demand upgrades of a registered tenant) and the schema, or its
 * version table, is gone: the tenant was deleted meanwhile. Nothing was created or changed.
 */
export class SchemaGoneError extends Error {
  override name = 'SchemaGoneError';
  constructor(readonly schema: string) {
    super(`schema "${schema}" does not exist (the tenant was deleted); nothing was changed`);
  }
}

/** `mustBeNew` was asked (tenant creation) and the schema already exists. */
export class SchemaExistsError extends Error {
  override name = 'SchemaExistsError';
  constructor(readonly schema: string) {
    super(`schema "${schema}" already exists`);
  }
}

const DEFAULTS: Required<RunnerOptions> = {
  advisoryLockTimeoutMs: 120_000,
  lockTimeoutMs: 10_000,
  statementTimeoutMs: 120_000,
};

/**
 * The schema's 64-bit advisory-lock key as a SQL expression evaluated by the server: the first 64 bits of
 * md5(system identifier, database oid, schema). The same database reached under two configured names
 * gives the same key; two clusters (different system identifiers) never share one.
 */
export function schemaLockKeySql(schema: string): string {
  return `('x' || left(md5(concat_ws(':', 'tenantry-migrations',
      (SELECT system_identifier::text FROM pg_control_system()),
      (SELECT oid::text FROM pg_database WHERE datname = current_database()),
      ${escapeLiteral(schema)})), 16))::bit(64)::bigint`;
}

const quoted = (name: string) => sql.id(name);

/** Columns of every schema's version table (SPEC 5): one definition for both ways of creating it. */
const VERSION_TABLE_COLUMNS = `
      revision    text PRIMARY KEY,
      name        text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now(),
      duration_ms integer,
      checksum    text`;

/**
 * `<create schema> "s"; <create table> "s".schema_migrations (…); search_path = "s"` as one simple-protocol
 * query. The name is a validated id, quoted; the verbs are ours (with or without IF NOT EXISTS).
 */
function schemaSetup(schema: string, createSchema: string, createTable: string): string {
  const name = quotedIdentifier(schema);
  return `${createSchema} ${name};
    ${createTable} ${name}.schema_migrations (${VERSION_TABLE_COLUMNS});
    SELECT set_config('search_path', '${name.replaceAll("'", "''")}', true)`;
}

/** A setting or lock key spliced into SQL text: must be a whole number (ours, from options or a hash). */
function whole(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RunnerInputError(`expected a whole number, got ${value}`);
  return String(value);
}

/** One finished upgrade or downgrade run, for observers such as the metrics (src/metrics/metrics.ts). */
export interface RunObservation {
  set: MigrationSet['name'];
  direction: 'upgrade' | 'downgrade';
  /** `applied`: revisions ran; `nothing`: already there; `failed`: refused or rolled back. */
  outcome: 'applied' | 'nothing' | 'failed';
  dryRun: boolean;
  seconds: number;
}

type UpgradeOptions = Parameters<MigrationRunner['runUpgrade']>[1];
type DowngradeOptions = Parameters<MigrationRunner['runDowngrade']>[1];

export class MigrationRunner {
  private readonly options: Required<RunnerOptions>;
  private readonly observers = new Set<(run: RunObservation) => void>();

  constructor(
    readonly set: MigrationSet,
    options: RunnerOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Calls `observer` after every upgrade and downgrade run; returns the function that stops it. */
  observe(observer: (run: RunObservation) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** `run`'s result, told to the observers with its duration and outcome. */
  private async observed(
    direction: RunObservation['direction'],
    dryRun: boolean,
    run: () => Promise<RunResult>,
  ): Promise<RunResult> {
    const started = performance.now();
    const tell = (outcome: RunObservation['outcome']) => {
      const seconds = (performance.now() - started) / 1000;
      for (const observer of this.observers)
        observer({ set: this.set.name, direction, outcome, dryRun, seconds });
    };
    try {
      const result = await run();
      tell(result.steps.length > 0 ? 'applied' : 'nothing');
      return result;
    } catch (error) {
      tell('failed');
      throw error;
    }
  }

  /** Applies revisions up to `to` (default head) in one locked transaction; see `runUpgrade`. */
  async upgrade(target: SchemaTarget, options: UpgradeOptions = {}): Promise<RunResult> {
    return this.observed('upgrade', options.dryRun ?? false, () => this.runUpgrade(target, options));
  }

  /** Reverts revisions in one locked transaction; see `runDowngrade`. */
  async downgrade(target: SchemaTarget, options: DowngradeOptions): Promise<RunResult> {
    return this.observed('downgrade', options.dryRun ?? false, () => this.runDowngrade(target, options));
  }

  /** Runs `work` in one locked transaction on one connection; commits unless `rollback`. */
  private async locked<T>(
    target: SchemaTarget,
    rollback: boolean,
    work: (conn: AnyDb) => Promise<T>,
  ): Promise<T> {
    const { advisoryLockTimeoutMs: wait, statementTimeoutMs, lockTimeoutMs } = this.options;
    // BEGIN, the timeouts and the schema lock in ONE round trip (a simple-protocol query of several
    // statements; PostgreSQL ≥ 13 applies statement_timeout to each of them separately). Every value in
    // it is a number of ours, never input. Tenant creation counted 56 round trips before this and the
    // version-table changes below, 45 after.
    const preamble = [
      'BEGIN',
      `SELECT set_config('statement_timeout', '${whole(wait)}', true), set_config('lock_timeout', '${whole(wait)}', true)`,
      `SELECT pg_advisory_xact_lock(${schemaLockKeySql(target.schema)})`,
      `SELECT set_config('statement_timeout', '${whole(statementTimeoutMs)}', true), set_config('lock_timeout', '${whole(lockTimeoutMs)}', true), set_config('standard_conforming_strings', 'on', true)`,
    ].join(';\n');
    return target.db.connection().execute(async (conn) => {
      try {
        await sql.raw(preamble).execute(conn);
        const result = await work(conn);
        await sql.raw(rollback ? 'ROLLBACK' : 'COMMIT').execute(conn);
        return result;
      } catch (error) {
        await sql`ROLLBACK`.execute(conn).catch(() => {});
        throw error;
      }
    });
  }

  /** Runs `work` in a committed transaction holding the schema's migration lock (e.g. dropping it). */
  async withSchemaLock<T>(target: SchemaTarget, work: (conn: AnyDb) => Promise<T>): Promise<T> {
    return this.locked(target, false, work);
  }

  private async schemaExists(db: AnyDb, schema: string): Promise<boolean> {
    const result = await sql<{ present: boolean }>`
      SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${schema}) AS present`.execute(db);
    return Boolean(result.rows[0]?.present);
  }

  /**
   * Tenant creation: the schema (refused with SchemaExistsError when it exists), its version table and the
   * transaction's search_path, in one round trip. The name is a validated id, quoted.
   */
  private async createSchema(conn: AnyDb, schema: string): Promise<void> {
    try {
      await sql.raw(schemaSetup(schema, 'CREATE SCHEMA', 'CREATE TABLE')).execute(conn);
    } catch (error) {
      if (sqlState(error) === SQLSTATE.DUPLICATE_SCHEMA) throw new SchemaExistsError(schema);
      throw error;
    }
  }

  /**
   * The schema and its version table unless they exist, and the transaction's search_path (inside the
   * caller's transaction): one round trip, as for a new schema (with `versionRows`, 2 round trips before the
   * revisions instead of 5).
   */
  private async prepareSchema(conn: AnyDb, schema: string): Promise<void> {
    await sql
      .raw(schemaSetup(schema, 'CREATE SCHEMA IF NOT EXISTS', 'CREATE TABLE IF NOT EXISTS'))
      .execute(conn);
  }

  /** The version rows of a schema that must exist (read under its lock), with the search_path set. */
  private async existingVersionRows(conn: AnyDb, schema: string): Promise<AppliedRow[]> {
    const applied = await this.readApplied(conn, schema);
    if (applied === null) throw new SchemaGoneError(schema);
    await sql`SELECT set_config('search_path', ${quotedIdentifier(schema)}, true)`.execute(conn);
    return applied;
  }

  /** The version table's rows; null when the schema has no version table (or does not exist). */
  private async readApplied(db: AnyDb, schema: string): Promise<AppliedRow[] | null> {
    const exists = await sql<{ present: boolean }>`
      SELECT to_regclass(${`${quotedIdentifier(schema)}.schema_migrations`}) IS NOT NULL AS present`.execute(
      db,
    );
    return exists.rows[0]?.present ? this.versionRows(db, schema) : null;
  }

  /** The version table's rows, when it is known to exist (after `prepareSchema`). */
  private async versionRows(db: AnyDb, schema: string): Promise<AppliedRow[]> {
    const rows = await sql<AppliedRow>`
      SELECT revision, name, applied_at, duration_ms, checksum
      FROM ${quoted(schema)}.schema_migrations`.execute(db);
    return rows.rows;
  }

  /** Orders applied rows along the chain; refuses unknown revisions and non-prefix sets. */
  private interpret(schema: string, applied: AppliedRow[] | null): { current: string | null; count: number } {
    if (!applied || applied.length === 0) return { current: null, count: 0 };
    const unknown = applied.filter((row) => !this.set.get(row.revision)).map((row) => row.revision);
    if (unknown.length > 0) throw new UnknownRevisionError(schema, unknown);
    const indexes = applied.map((row) => this.set.indexOf(row.revision)).sort((a, b) => a - b);
    if (indexes.some((value, position) => value !== position)) {
      throw new RunnerInputError(
        `schema "${schema}" has applied revisions that skip earlier ones (${applied
          .map((r) => r.revision)
          .join(', ')}); fix its schema_migrations table or stamp it`,
      );
    }
    return { current: this.set.migrations[applied.length - 1]!.revision, count: applied.length };
  }

  /** Known revisions whose checksum changed since they were applied (older-format checksums are skipped). */
  private drifted(applied: Array<Pick<AppliedRow, 'revision' | 'checksum'>>): string[] {
    return applied
      .filter((row) => {
        const migration = this.set.get(row.revision);
        return (
          migration !== undefined && comparableChecksum(row.checksum) && migration.checksum !== row.checksum
        );
      })
      .map((row) => row.revision);
  }

  /** Reads the schema's state without locking or changing anything. */
  async status(target: SchemaTarget): Promise<SchemaStatus> {
    const applied = await this.readApplied(target.db, target.schema);
    const exists = await this.schemaExists(target.db, target.schema);
    return this.describe(target.schema, exists, applied);
  }

  /**
   * A schema's state from its version rows (also for rows read in bulk, `db current` over a fleet). A
   * schema with revisions this code does not know shows the newest of them as `current` (behind 0, listed
   * in `unknown`): the database is ahead of the code.
   */
  describe(
    schema: string,
    exists: boolean,
    applied: Array<Pick<AppliedRow, 'revision' | 'checksum'> & { applied_at?: Date }> | null,
  ): SchemaStatus {
    const rows = applied ?? [];
    const unknownRows = rows.filter((row) => !this.set.get(row.revision));
    const head = this.set.head;
    if (unknownRows.length > 0) {
      const newest = [...unknownRows].sort(
        (a, b) => (a.applied_at?.getTime() ?? 0) - (b.applied_at?.getTime() ?? 0),
      );
      return {
        schema,
        exists,
        current: newest.at(-1)!.revision,
        head,
        behind: 0,
        pending: [],
        unknown: unknownRows.map((row) => row.revision),
        drifted: this.drifted(rows),
      };
    }
    const { current, count } = this.interpret(schema, rows as AppliedRow[]);
    const pending = this.set.migrations.slice(count).map((m) => m.revision);
    return {
      schema,
      exists,
      current,
      head,
      behind: pending.length,
      pending,
      unknown: [],
      drifted: this.drifted(rows),
    };
  }

  /** Code revisions joined with what the schema recorded (for `history`). */
  async history(target: SchemaTarget): Promise<Array<Migration & { applied: AppliedRow | null }>> {
    const applied = (await this.readApplied(target.db, target.schema)) ?? [];
    const byRevision = new Map(applied.map((row) => [row.revision, row]));
    return this.set.migrations.map((m) => ({ ...m, applied: byRevision.get(m.revision) ?? null }));
  }

  /**
   * Applies every pending revision up to `target` (default head) in one transaction. With `dryRun` the
   * DDL really executes and is then rolled back: nothing stays, not even a new schema.
   */
  private async runUpgrade(
    target: SchemaTarget,
    options: {
      to?: string;
      dryRun?: boolean;
      /** Refuse (SchemaExistsError) when the schema exists already: tenant creation. */
      mustBeNew?: boolean;
      /**
       * Refuse (SchemaGoneError) when the schema or its version table is missing, and never create either:
       * upgrades of registered tenants. Only creation may create a schema; otherwise a tenant deleted
       * while its upgrade waited for the lock would come back as an empty schema without a registry row.
       */
      mustExist?: boolean;
      /** Extra work in the same transaction, after the migrations (e.g. the registry row). */
      inTransaction?: ((conn: AnyDb) => Promise<void>) | undefined;
    } = {},
  ): Promise<RunResult> {
    const goal = this.set.resolve(options.to ?? 'head');
    const goalIndex = goal === null ? -1 : this.set.indexOf(goal);
    const started = performance.now();
    return this.locked(target, options.dryRun ?? false, async (conn) => {
      // A new schema has an empty version table: nothing to read back.
      const applied = options.mustBeNew
        ? await this.createSchema(conn, target.schema).then(() => [])
        : options.mustExist
          ? await this.existingVersionRows(conn, target.schema)
          : await this.prepareSchema(conn, target.schema).then(() => this.versionRows(conn, target.schema));
      const { current, count } = this.interpret(target.schema, applied);
      if (goalIndex < count - 1) {
        throw new RunnerInputError(
          `schema "${target.schema}" is at ${current}, past the requested ${goal ?? 'base'}; use downgrade to go back`,
        );
      }
      const steps: StepResult[] = [];
      const pending = this.set.migrations.slice(count, goalIndex + 1);
      for (const migration of pending) {
        steps.push(await this.apply(conn, target.schema, migration));
      }
      await this.recordApplied(conn, target.schema, pending, steps);
      await options.inTransaction?.(conn);
      return {
        schema: target.schema,
        from: current,
        to: goal ?? current,
        dryRun: options.dryRun ?? false,
        steps,
        durationMs: Math.round(performance.now() - started),
      };
    });
  }

  /**
   * The version rows of the revisions just applied, in one INSERT after the last of them (same
   * transaction, so a failing revision still leaves no row; applied_at is the transaction's now() either way).
   */
  private async recordApplied(
    conn: AnyDb,
    schema: string,
    migrations: Migration[],
    steps: StepResult[],
  ): Promise<void> {
    if (migrations.length === 0) return;
    const rows = migrations.map(
      (migration, i) =>
        sql`(${migration.revision}, ${migration.name}, ${steps[i]?.durationMs ?? null}, ${migration.checksum})`,
    );
    await sql`INSERT INTO ${quoted(schema)}.schema_migrations (revision, name, duration_ms, checksum)
              VALUES ${sql.join(rows)}`.execute(conn);
  }

  /** Applies one revision's `up` (its version row is written by `recordApplied`). */
  private async apply(conn: AnyDb, schema: string, migration: Migration): Promise<StepResult> {
    const began = performance.now();
    await this.runRevision(conn, schema, migration, 'up');
    const durationMs = Math.round(performance.now() - began);
    return {
      revision: migration.revision,
      name: migration.name,
      description: migration.description,
      durationMs,
    };
  }

  /**
   * Runs a revision's `up` or `down` on the transaction's connection (search_path is the schema): SQL text
   * as one query, a function as it is written. Either way its failure names the revision.
   */
  private async runRevision(
    conn: AnyDb,
    schema: string,
    migration: Migration,
    direction: 'up' | 'down',
  ): Promise<void> {
    const body = migration[direction];
    try {
      if (typeof body === 'string') {
        if (body.trim() !== '') await sql.raw(body).execute(conn);
      } else await body(conn, { schema });
    } catch (error) {
      throw new MigrationFailedError(schema, migration.revision, migration.name, error);
    }
  }

  /**
   * Reverts revisions newest first in one transaction: `steps` of them, or down to `to` (a revision that
   * stays applied, or `base` for everything). A downgrade that would drop tables or columns holding rows
   * is refused (DataLossError, nothing changed) unless `allowDataLoss`; a dry run reports them in `drops`.
   */
  private async runDowngrade(
    target: SchemaTarget,
    options: {
      steps?: number;
      to?: string;
      dryRun?: boolean;
      /** Go on although tables or columns holding rows are dropped (otherwise DataLossError). */
      allowDataLoss?: boolean;
    },
  ): Promise<RunResult> {
    if ((options.steps === undefined) === (options.to === undefined)) {
      throw new RunnerInputError('downgrade needs either a number of steps or a target revision');
    }
    if (options.steps !== undefined && (!Number.isInteger(options.steps) || options.steps < 1)) {
      throw new RunnerInputError(`downgrade steps must be a whole number ≥ 1, got ${options.steps}`);
    }
    const goal = options.to === undefined ? undefined : this.set.resolve(options.to);
    const started = performance.now();
    return this.locked(target, options.dryRun ?? false, async (conn) => {
      const applied = await this.readApplied(conn, target.schema);
      const { current, count } = this.interpret(target.schema, applied);
      let keep: number;
      if (options.steps !== undefined) {
        if (options.steps > count) {
          throw new RunnerInputError(
            `cannot downgrade schema "${target.schema}" by ${options.steps}: only ${count} revision(s) applied`,
          );
        }
        keep = count - options.steps;
      } else {
        keep = goal === null || goal === undefined ? 0 : this.set.indexOf(goal) + 1;
        if (keep > count) {
          throw new RunnerInputError(
            `schema "${target.schema}" is at ${current ?? 'base'}, before ${goal}; use upgrade to go forward`,
          );
        }
      }
      await sql`SELECT set_config('search_path', ${quotedIdentifier(target.schema)}, true)`.execute(conn);
      const reverting = this.set.migrations.slice(keep, count).reverse();
      const runDowns = async () => {
        const steps: StepResult[] = [];
        for (const migration of reverting) {
          const began = performance.now();
          await this.runRevision(conn, target.schema, migration, 'down');
          await sql`DELETE FROM ${quoted(target.schema)}.schema_migrations WHERE revision = ${migration.revision}`.execute(
            conn,
          );
          steps.push({
            revision: migration.revision,
            name: migration.name,
            description: migration.description,
            durationMs: Math.round(performance.now() - began),
          });
        }
        return steps;
      };
      // What the downs drop is found by running them behind a savepoint and comparing the schema's
      // columns; only when something went away are they undone, the lost rows counted, and — when the
      // downgrade may go on — run again. A downgrade that drops nothing runs once.
      const before = await tableColumns(conn, target.schema);
      await sql`SAVEPOINT tenantry_downgrade`.execute(conn);
      let steps = await runDowns();
      const gone = droppedColumns(before, await tableColumns(conn, target.schema));
      let drops: DroppedData[] = [];
      if (gone.length > 0) {
        await sql`ROLLBACK TO SAVEPOINT tenantry_downgrade`.execute(conn);
        drops = await countRows(conn, target.schema, gone);
        if (drops.length > 0 && !options.allowDataLoss && !options.dryRun) {
          throw new DataLossError(target.schema, drops);
        }
        steps = await runDowns();
      }
      return {
        schema: target.schema,
        from: current,
        to: keep === 0 ? null : this.set.migrations[keep - 1]!.revision,
        dryRun: options.dryRun ?? false,
        steps,
        durationMs: Math.round(performance.now() - started),
        drops,
      };
    });
  }

  /** Records `to` as the schema's version without running anything (adopting an existing schema). */
  async stamp(
    target: SchemaTarget,
    to: string,
  ): Promise<{ schema: string; from: string | null; to: string | null }> {
    const goal = this.set.resolve(to);
    const keep = goal === null ? 0 : this.set.indexOf(goal) + 1;
    return this.locked(target, false, async (conn) => {
      const applied = await this.readApplied(conn, target.schema);
      const known = (applied ?? []).filter((row) => this.set.get(row.revision));
      const from = known.length === 0 ? null : (this.set.migrations[known.length - 1]?.revision ?? null);
      await this.prepareSchema(conn, target.schema);
      await sql`DELETE FROM ${quoted(target.schema)}.schema_migrations`.execute(conn);
      for (const migration of this.set.migrations.slice(0, keep)) {
        await sql`INSERT INTO ${quoted(target.schema)}.schema_migrations (revision, name, duration_ms, checksum)
                  VALUES (${migration.revision}, ${migration.name}, NULL, ${migration.checksum})`.execute(
          conn,
        );
      }
      return { schema: target.schema, from, to: goal };
    });
  }
}

/** `"name"` with embedded quotes doubled: for set_config/to_regclass, which take text, not identifiers. */
export function quotedIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

interface TableColumns {
  table: string;
  oid: number;
  columns: string[];
}

/** The schema's tables (by oid, so a table dropped and re-created counts as dropped) and their columns. */
async function tableColumns(conn: AnyDb, schema: string): Promise<TableColumns[]> {
  const result = await sql<TableColumns>`
    SELECT c.relname AS table, c.oid::int8::float8 AS oid,
           array_agg(a.attname::text ORDER BY a.attnum) AS columns
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
    GROUP BY c.relname, c.oid`.execute(conn);
  return result.rows;
}

function droppedColumns(before: TableColumns[], after: TableColumns[]): Array<Omit<DroppedData, 'rows'>> {
  const remaining = new Map(after.map((t) => [t.oid, new Set(t.columns)]));
  const gone: Array<Omit<DroppedData, 'rows'>> = [];
  for (const table of before) {
    const columns = remaining.get(table.oid);
    if (!columns) gone.push({ table: table.table, column: null });
    else
      for (const column of table.columns) if (!columns.has(column)) gone.push({ table: table.table, column });
  }
  return gone;
}

/** Rows of each dropped table, non-null values of each dropped column; only those holding data. */
async function countRows(
  conn: AnyDb,
  schema: string,
  gone: Array<Omit<DroppedData, 'rows'>>,
): Promise<DroppedData[]> {
  const drops: DroppedData[] = [];
  for (const item of gone) {
    const from = sql.id(schema, item.table);
    const result = await (item.column === null
      ? sql<{ n: string }>`SELECT count(*) AS n FROM ${from}`
      : sql<{ n: string }>`SELECT count(*) AS n FROM ${from} WHERE ${sql.id(item.column)} IS NOT NULL`
    ).execute(conn);
    const rows = Number(result.rows[0]?.n ?? 0);
    if (rows > 0) drops.push({ ...item, rows });
  }
  return drops.sort((a, b) => `${a.table}.${a.column ?? ''}`.localeCompare(`${b.table}.${b.column ?? ''}`));
}
