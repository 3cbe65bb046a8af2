/**
 * Moving one tenant to another database host (issue 17), with PostgreSQL's own logical replication:
 *
 *   1. the target schema is created at the source's revision by the runner, its tables emptied;
 *   2. on the source a publication FOR TABLES IN SCHEMA <tenant> and a slot; on the target a
 *      subscription: initial copy, then the stream of changes — reads and writes go on meanwhile;
 *   3. the switch: on the source the tenant's tables are locked IN EXCLUSIVE MODE (reads go on, writes
 *      wait), the subscription catches up to the source's WAL position, row counts and checksums per
 *      table are compared, sequences are set, and the source schema is RENAMED to a tombstone in the same
 *      transaction: a write that waited for the lock then finds no table and is answered 503 + Retry-After
 *      (tenant-plugin.ts), so nothing is written to the old copy after the switch;
 *   4. the registry row switches host (NOTIFY: every process's cache lets go of the old host);
 *   5. subscription (and its slot), publication and the tombstone are dropped.
 *
 * When the source cannot stream (wal_level, privilege, version, a table without a primary key), the
 * fallback is pg_dump | pg_restore of the one schema with writes held (the same lock) for the whole copy.
 *
 * Crash safety: `public.tenant_moves.state` is written before each step that needs it; whatever step a
 * process dies in, the tenant is served by exactly one host: the registry row only changes after the
 * source copy is a tombstone, in one transaction with `state = 'switched'`. The next run of the move
 * (`--resume`, the job's retry, the server's reconciler) reads the state and finishes or undoes:
 *   queued, copying  → undo (drop subscription, slot, publication, the partial target schema) and start over;
 *   switching        → the source schema renamed (committed)? finish: registry, clean-up. Else undo, start over;
 *   switched         → clean up.
 * Between the tombstone's commit and the registry switch (milliseconds, or until recovery after a crash
 * exactly there) the tenant answers 503 + Retry-After: never served twice, never a lost write.
 */
import { sql } from 'kysely';
import type pg from 'pg';
import { findTools, startTool, toolConnection } from '../../backup/pg-tools.ts';
import type { Core } from '../../core.ts';
import { type AnyDb, DEFAULT_HOST, quoteIdent } from '../../db/hosts.ts';
import { SQLSTATE, sqlState } from '../../db/sqlstate.ts';
import { schemaLockKeySql } from '../../migrations/runner.ts';
import type { TenantRow } from '../registry.ts';
import { assertTenantId } from '../tenant-id.ts';
import {
  findMove,
  insertMove,
  type MoveMethod,
  type MoveRow,
  type MoveState,
  recordStep,
  unfinishedMove,
} from './move-store.ts';
import {
  compareChecks,
  confirmedPast,
  copySequences,
  createPublication,
  createSlot,
  createSubscription,
  currentLsn,
  dropSourceObjects,
  dropSubscription,
  logicalBlocker,
  objectName,
  openClient,
  schemaExists,
  schemaTables,
  syncState,
  type TableCheck,
  tableChecks,
  tombstoneName,
} from './replication.ts';

export class MoveError extends Error {
  override name = 'MoveError';
  constructor(
    message: string,
    readonly kind: 'not_found' | 'bad_request' | 'conflict',
  ) {
    super(message);
  }
}

/** The move failed and was undone: the tenant stays where it was. */
class MoveFailed extends Error {
  override name = 'MoveFailed';
}

export interface MoveOptions {
  /** Progress, as it happens (the CLI prints it). */
  onProgress?: (step: string, note?: string) => void;
  /** The registry row switched hosts (a server invalidates its own cache at once; NOTIFY tells others). */
  onSwitched?: (tenantId: string) => void;
  /** `auto` (default): logical replication when the source can, else the dump. */
  method?: 'auto' | MoveMethod;
  /** Longest wait for the initial copy (default 30 min). */
  copyTimeoutMs?: number;
  /** Longest time writes are held at the switch before it gives up and tries again (default 5 s). */
  holdTimeoutMs?: number;
  /**
   * Only finish a move past its point of no return (the source copy retired, or the registry switched);
   * leave any other unfinished move as it is (the server's reconciler: short work, never a copy).
   */
  finishOnly?: boolean;
  pgBinDir?: string;
}

export interface MoveResult {
  id: string;
  tenant_id: string;
  from: string;
  to: string;
  dry_run: boolean;
  method: MoveMethod | null;
  method_note: string | null;
  state: MoveState;
  error: string | null;
  tables: TableCheck[];
  /** How long writes were held at the switch (or for the whole copy with the dump). */
  hold_ms: number | null;
  duration_ms: number;
}

/** Test-only crash points (`TENANTRY_MOVE_CRASH_AT=copy|catchup|switch|switched-source|drop`). */
function crashPoint(name: string): void {
  if (process.env.TENANTRY_MOVE_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Advisory-lock class of moves (with hashtext(tenant) as the key): one process works a move at a time. */
const MOVE_LOCK_CLASS = 1_836_019_574;

/** Checks a request and records the move (state queued). Returns its id. */
export async function startMove(
  core: Core,
  tenantId: string,
  to: string,
  options: {
    dryRun?: boolean;
    /** Runs in the transaction that records the move (a job queue enqueues the move's job there). */
    inTransaction?: (trx: AnyDb, id: string) => Promise<void>;
  } = {},
): Promise<string> {
  const tenant = await core.registry.find(assertTenantId(tenantId));
  if (!tenant) throw new MoveError(`tenant "${tenantId}" does not exist`, 'not_found');
  checkMovable(core, tenant, to);
  const db = core.hosts.db(DEFAULT_HOST);
  const open = await unfinishedMove(db, tenantId);
  if (open)
    throw new MoveError(
      `tenant "${tenantId}" has an unfinished move to ${open.to_host} (${open.id}): finish or undo it with "tenants move ${tenantId} --resume"`,
      'conflict',
    );
  const target = core.hosts.pool(to);
  if (await schemaExists(target, tenantId))
    throw new MoveError(
      `host "${to}" already has a schema named "${tenantId}" (an orphan? see "db check"); drop it or move elsewhere`,
      'conflict',
    );
  const move = { tenant_id: tenantId, from_host: tenant.host, to_host: to, dry_run: options.dryRun ?? false };
  const { inTransaction } = options;
  if (!inTransaction) return insertMove(db, move);
  return db.transaction().execute(async (trx) => {
    const id = await insertMove(trx, move);
    await inTransaction(trx, id);
    return id;
  });
}

function checkMovable(core: Core, tenant: TenantRow, to: string): void {
  if (!core.hosts.has(to))
    throw new MoveError(
      `unknown database host "${to}" (configured: ${core.hosts.names().join(', ')})`,
      'bad_request',
    );
  if (!core.hosts.has(tenant.host))
    throw new MoveError(
      `tenant "${tenant.tenant_id}" is on host "${tenant.host}", which is not configured`,
      'conflict',
    );
  if (tenant.host === to)
    throw new MoveError(`tenant "${tenant.tenant_id}" is already on host "${to}"`, 'bad_request');
  if (tenant.status !== 'active' && tenant.status !== 'suspended')
    throw new MoveError(
      `tenant "${tenant.tenant_id}" is ${tenant.status}; only an active or suspended tenant moves`,
      'conflict',
    );
}

/**
 * Runs (or resumes) a recorded move to its end: done, undone or failed. Throws only when it could not
 * reach an end (a host unreachable, another process working it): the state stays, the next run goes on.
 */
export async function runMove(core: Core, id: string, options: MoveOptions = {}): Promise<MoveResult> {
  const db = core.hosts.db(DEFAULT_HOST);
  const first = await findMove(db, id);
  if (!first) throw new MoveError(`move ${id} does not exist`, 'not_found');
  const lock = await openClient(core.hosts.url(DEFAULT_HOST), 'tenantry-move-lock');
  try {
    const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      MOVE_LOCK_CLASS,
      first.tenant_id,
    ]);
    if (!got.rows[0]?.ok)
      throw new MoveError(`the move of "${first.tenant_id}" is running in another process`, 'conflict');
    const row = (await findMove(db, id))!;
    return await new Move(core, row, options).run();
  } finally {
    await lock.end().catch(() => {});
  }
}

class Move {
  private readonly name: string;
  private readonly tombstone: string;
  private readonly schema: string;
  private source: pg.Client | undefined;
  private target: pg.Client | undefined;
  private readonly started = performance.now();
  private tables: TableCheck[] = [];
  private holdMs: number | null = null;
  private method: MoveMethod | null;
  private methodNote: string | null;
  /** Past this point an error must not undo: the source copy is a tombstone (or the registry switched). */
  private committed = false;

  constructor(
    private readonly core: Core,
    private row: MoveRow,
    private readonly options: MoveOptions,
  ) {
    this.name = objectName(row.id);
    this.tombstone = tombstoneName(row.id);
    this.schema = row.tenant_id;
    this.method = row.method;
    this.methodNote = row.method_note;
  }

  private get db() {
    return this.core.hosts.db(DEFAULT_HOST);
  }

  private async step(step: string, changes: Parameters<typeof recordStep>[3] = {}): Promise<void> {
    await recordStep(this.db, this.row.id, step, changes);
    this.options.onProgress?.(step, changes.note);
  }

  private async src(): Promise<pg.Client> {
    if (!this.source) {
      this.source = await openClient(this.core.hosts.url(this.row.from_host), 'tenantry-move');
      // The tenant's migration lock (the runner's key) for the whole move: no upgrade, downgrade or
      // deletion of this tenant changes the source schema under the copy.
      await this.source.query(`SELECT pg_advisory_lock(${schemaLockKeySql(this.schema)})`);
    }
    return this.source;
  }

  private async dst(): Promise<pg.Client> {
    this.target ??= await openClient(this.core.hosts.url(this.row.to_host), 'tenantry-move');
    return this.target;
  }

  async run(): Promise<MoveResult> {
    try {
      switch (this.row.state) {
        case 'done':
        case 'undone':
        case 'failed':
          return this.result();
        case 'switched':
          this.committed = true;
          await this.cleanUp('resumed: the registry had switched; cleaning up');
          return this.result();
        case 'switching':
          if (await this.tombstoneCommitted()) {
            this.committed = true;
            await this.step('resumed: the source copy was retired; switching the registry');
            await this.switchRegistry();
            await this.cleanUp();
            return this.result();
          }
          if (this.options.finishOnly) return this.result();
          await this.undo('resumed: the switch had not happened; undoing the partial copy');
          break;
        case 'copying':
          if (this.options.finishOnly) return this.result();
          await this.undo('resumed: undoing the interrupted copy');
          break;
        case 'queued':
          if (this.options.finishOnly) return this.result();
          break;
      }
      await this.perform();
      return this.result();
    } catch (error) {
      return await this.failed(error);
    } finally {
      await Promise.all([this.source?.end().catch(() => {}), this.target?.end().catch(() => {})]);
    }
  }

  private async failed(error: unknown): Promise<MoveResult> {
    const message = error instanceof Error ? error.message : String(error);
    if (this.committed) {
      // The tenant lives on the target (or will, once the registry switch is retried): never undo.
      await this.step('interrupted after the switch', { error: message }).catch(() => {});
      throw new Error(
        `${message} (the move is past its switch: rerun "tenants move ${this.schema} --resume")`,
      );
    }
    try {
      await this.undo('failed: undoing');
    } catch (undoError) {
      await recordStep(this.db, this.row.id, 'undo failed', {
        error: `${message}; undo: ${undoError instanceof Error ? undoError.message : String(undoError)}`,
      }).catch(() => {});
      throw new Error(`${message} (undo failed too; rerun "tenants move ${this.schema} --resume")`);
    }
    await this.step('failed', {
      state: 'failed',
      error: message,
      note: `the tenant stays on ${this.row.from_host}`,
    });
    return this.result();
  }

  private async result(): Promise<MoveResult> {
    this.row = (await findMove(this.db, this.row.id))!;
    return {
      id: this.row.id,
      tenant_id: this.row.tenant_id,
      from: this.row.from_host,
      to: this.row.to_host,
      dry_run: this.row.dry_run,
      method: this.row.method,
      method_note: this.row.method_note,
      state: this.row.state,
      error: this.row.error,
      tables: this.tables,
      hold_ms: this.holdMs ?? (this.row.detail.hold_ms as number | undefined) ?? null,
      duration_ms: Math.round(performance.now() - this.started),
    };
  }

  private async perform(): Promise<void> {
    const { from_host: from, to_host: to, dry_run: dryRun } = this.row;
    await this.step(dryRun ? 'dry run started' : 'started', {
      state: 'copying',
      attempt: true,
      error: null,
      note: `${this.schema}: ${from} → ${to}`,
    });
    const source = await this.src();
    if (!(await schemaExists(source, this.schema)))
      throw new MoveFailed(`the source host "${from}" has no schema "${this.schema}"`);
    const status = await this.core.tenantRunner.status({
      host: from,
      db: this.core.hosts.db(from),
      schema: this.schema,
    });
    const blocker =
      status.unknown.length > 0
        ? `the source schema has revisions this code does not know (${status.unknown.join(', ')})`
        : await logicalBlocker(source, this.schema);
    const wanted = this.options.method ?? 'auto';
    if (wanted === 'logical' && blocker)
      throw new MoveFailed(`logical replication is not possible: ${blocker}`);
    this.method = wanted === 'dump' || blocker ? 'dump' : 'logical';
    this.methodNote =
      this.method === 'logical'
        ? 'logical replication: reads and writes go on during the copy; writes are held briefly at the switch'
        : `pg_dump/pg_restore fallback (${blocker ?? 'asked for'}): writes are held for the whole copy`;
    await this.step(`method: ${this.method}`, {
      method: this.method,
      methodNote: this.methodNote,
      note: this.methodNote,
    });
    const tables = await schemaTables(source, this.schema);
    if (this.method === 'logical') await this.copyLogical(status.current, tables);
    else await this.copyDump(tables);
  }

  // ---- logical replication ----

  private async copyLogical(revision: string | null, tables: string[]): Promise<void> {
    const { to_host: to, from_host: from } = this.row;
    const source = await this.src();
    const target = await this.dst();
    await this.core.tenantRunner.upgrade(
      { host: to, db: this.core.hosts.db(to), schema: this.schema },
      {
        mustBeNew: true,
        to: revision ?? undefined,
        // The copy brings every row, the version table's included: seed rows of the migrations would
        // clash. As a replica (like the subscription's own workers), so guards such as task_events'
        // append-only trigger stay out of the way.
        inTransaction: async (conn) => {
          const names = tables.map((table) => `${quoteIdent(this.schema)}.${quoteIdent(table)}`).join(', ');
          await sql`SET LOCAL session_replication_role = replica`.execute(conn);
          if (names) await sql.raw(`TRUNCATE ${names}`).execute(conn);
        },
      },
    );
    await this.step('target schema created', { note: `at revision ${revision ?? 'base'} on ${to}` });
    await createPublication(source, this.name, this.schema);
    await createSlot(source, this.name);
    await this.step('publication and slot created', { note: `${this.name} on ${from}` });
    await createSubscription(target, this.name, this.core.hosts.url(from));
    await this.step('initial copy running', {
      note: `subscription ${this.name} on ${to}, ${tables.length} tables`,
    });
    crashPoint('copy');
    await this.waitForCopy(target);
    await this.step('initial copy done', { note: `${tables.length} tables; streaming changes` });
    await this.waitForLsn(source, await currentLsn(source), this.options.copyTimeoutMs ?? 30 * 60_000);
    await this.step('caught up');
    crashPoint('catchup');
    if (this.row.dry_run) {
      await this.verifyLive(source, target, tables);
      return;
    }
    await this.step('switching', { state: 'switching', note: 'writes are held' });
    await this.holdWrites(source, tables, async () => {
      const lsn = await currentLsn(source);
      await this.waitForLsn(source, lsn, this.options.holdTimeoutMs ?? 5_000);
      this.catchUpMs = Math.round(performance.now() - this.heldAt);
    });
    await this.switchOver(source, target, tables);
  }

  private async waitForCopy(target: pg.Client): Promise<void> {
    const deadline = Date.now() + (this.options.copyTimeoutMs ?? 30 * 60_000);
    let shown = -1;
    for (;;) {
      const state = await syncState(target, this.name);
      if (state.errors > 10)
        throw new MoveFailed(
          `the subscription on ${this.row.to_host} reports ${state.errors} errors (see that server's log)`,
        );
      if (state.tables > 0 && state.ready === state.tables) return;
      if (state.ready !== shown) {
        shown = state.ready;
        this.options.onProgress?.('copying', `${state.ready}/${state.tables} tables copied`);
      }
      if (Date.now() > deadline) throw new MoveFailed('the initial copy did not finish in time');
      await sleep(200);
    }
  }

  private async waitForLsn(source: pg.Client, lsn: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await confirmedPast(source, this.name, lsn))) {
      if (Date.now() > deadline)
        throw new CatchUpTimeout(`the subscription did not catch up to ${lsn} in ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Dry run: compared while writes go on, so retried a few times after catching up again. */
  private async verifyLive(source: pg.Client, target: pg.Client, tables: string[]): Promise<void> {
    let problems: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.method === 'logical') await this.waitForLsn(source, await currentLsn(source), 30_000);
      const [a, b] = [
        await tableChecks(source, this.schema, tables),
        await tableChecks(target, this.schema, tables),
      ];
      problems = compareChecks(a, b);
      this.tables = a;
      if (problems.length === 0) break;
      await sleep(500);
    }
    await this.undo('dry run: dropping the scratch copy');
    if (problems.length > 0)
      throw new MoveFailed(
        `dry run: the copy differs from the source (writes going on?): ${problems.join('; ')}`,
      );
    const rows = this.tables.reduce((sum, check) => sum + check.rows, 0);
    await this.step('dry run verified', {
      state: 'done',
      note: `${tables.length} tables, ${rows} rows identical; scratch copy dropped, nothing switched`,
    });
  }

  // ---- the hold and the switch ----

  /**
   * Locks the tenant's tables on the source IN EXCLUSIVE MODE in a transaction left open: reads go on,
   * writes wait. `ready` runs under the lock (catch-up); tried 3 times when the lock or `ready` time out.
   */
  private async holdWrites(source: pg.Client, tables: string[], ready: () => Promise<void>): Promise<void> {
    const holdMs = this.options.holdTimeoutMs ?? 5_000;
    const names = tables.map((table) => `${quoteIdent(this.schema)}.${quoteIdent(table)}`).join(', ');
    for (let attempt = 1; ; attempt++) {
      await source.query('BEGIN');
      try {
        await source.query(`SET LOCAL lock_timeout = ${Math.round(holdMs)}`);
        await source.query(`LOCK TABLE ${names} IN EXCLUSIVE MODE`);
        this.heldAt = performance.now();
        await ready();
        return;
      } catch (error) {
        await source.query('ROLLBACK').catch(() => {});
        const retry = error instanceof CatchUpTimeout || sqlState(error) === SQLSTATE.LOCK_NOT_AVAILABLE;
        if (!retry || attempt >= 3) throw error;
        await this.step('hold released, retrying', {
          note: error instanceof Error ? error.message : String(error),
        });
        await sleep(1_000);
      }
    }
  }

  private heldAt = 0;
  /** Of the hold: the wait for the subscription to confirm the source's WAL position. */
  private catchUpMs: number | null = null;

  /** Under the hold: verify, sequences, retire the source copy (commit), then the registry. */
  private async switchOver(source: pg.Client, target: pg.Client, tables: string[]): Promise<void> {
    crashPoint('switch');
    const [a, b] = [
      await tableChecks(source, this.schema, tables),
      await tableChecks(target, this.schema, tables),
    ];
    const problems = compareChecks(a, b);
    if (problems.length > 0) {
      await source.query('ROLLBACK').catch(() => {});
      throw new MoveFailed(`verification failed: ${problems.join('; ')}`);
    }
    this.tables = a;
    const sequences = await copySequences(source, target, this.schema);
    await source.query(`ALTER SCHEMA ${quoteIdent(this.schema)} RENAME TO ${quoteIdent(this.tombstone)}`);
    await source.query('COMMIT');
    this.committed = true;
    this.holdMs = Math.round(performance.now() - this.heldAt);
    const rows = a.reduce((sum, check) => sum + check.rows, 0);
    await this.step('verified and retired the source copy', {
      note: `${tables.length} tables, ${rows} rows, checksums equal; ${sequences} sequences set; writes held ${this.holdMs} ms${this.catchUpMs === null ? '' : ` (catch-up ${this.catchUpMs} ms)`}`,
      detail: { hold_ms: this.holdMs, catch_up_ms: this.catchUpMs, tables: a },
    });
    crashPoint('switched-source');
    await this.switchRegistry();
    await this.cleanUp();
  }

  private async tombstoneCommitted(): Promise<boolean> {
    const source = await this.src();
    return (await schemaExists(source, this.tombstone)) && !(await schemaExists(source, this.schema));
  }

  /** The registry row points at the target, in one transaction with the move's `switched` state. */
  private async switchRegistry(): Promise<void> {
    const { tenant_id: tenantId, from_host: from, to_host: to } = this.row;
    await this.db.transaction().execute(async (trx) => {
      const switched = await sql`UPDATE public.tenants SET host = ${to}, updated_at = now()
        WHERE tenant_id = ${tenantId} AND host = ${from}`.execute(trx);
      if (Number(switched.numAffectedRows ?? 0) !== 1) {
        const row = await this.core.registry.find(tenantId, trx);
        if (row?.host !== to)
          throw new Error(`the registry row of "${tenantId}" is gone or on "${row?.host}"`);
      }
      await this.core.registry.notify(tenantId, trx);
      await recordStep(trx, this.row.id, 'registry switched', {
        state: 'switched',
        note: `served from ${to}`,
      });
    });
    this.committed = true;
    this.options.onProgress?.('registry switched', `served from ${to}`);
    this.options.onSwitched?.(tenantId);
  }

  /** Subscription (with its slot), publication, the source's tombstone: gone. */
  private async cleanUp(note?: string): Promise<void> {
    if (note) await this.step(note);
    const target = await this.dst();
    await dropSubscription(target, this.name);
    crashPoint('drop');
    const source = await this.src();
    await dropSourceObjects(source, this.name);
    await source.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.tombstone)} CASCADE`);
    await this.step('done', {
      state: 'done',
      note: `subscription, slot, publication and the source copy dropped; served from ${this.row.to_host}`,
    });
  }

  /**
   * Undoes everything a move made before its switch: subscription, slot, publication, and the target
   * schema — only while the registry does not serve the tenant from the target.
   */
  private async undo(step: string): Promise<void> {
    await this.step(step);
    const target = await this.dst();
    await dropSubscription(target, this.name);
    const source = await this.src();
    await source.query('ROLLBACK').catch(() => {});
    await dropSourceObjects(source, this.name);
    const tenant = await this.core.registry.find(this.schema);
    if (tenant && tenant.host !== this.row.to_host)
      await target.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.schema)} CASCADE`);
    await this.step('undone', { note: `the tenant is served from ${tenant?.host}` });
  }

  // ---- the dump fallback ----

  private async copyDump(tables: string[]): Promise<void> {
    const { from_host: from, to_host: to, dry_run: dryRun } = this.row;
    const source = await this.src();
    const target = await this.dst();
    await this.core.hostMigrations.ensure(to);
    if (!dryRun) await this.holdWrites(source, tables, async () => {});
    await this.step(dryRun ? 'dump running (dry run: writes go on)' : 'writes held; dump running', {
      note: `pg_dump of schema ${this.schema} on ${from} | pg_restore on ${to}`,
    });
    await this.dumpAndRestore(source);
    crashPoint('copy');
    await this.step('restored', { note: `${tables.length} tables on ${to}` });
    if (dryRun) {
      await this.verifyLive(source, target, tables);
      return;
    }
    await this.step('switching', { state: 'switching', note: 'writes still held' });
    await this.switchOver(source, target, tables);
  }

  private async dumpAndRestore(source: pg.Client): Promise<void> {
    const version = await source.query<{ major: number }>(
      "SELECT current_setting('server_version_num')::int / 10000 AS major",
    );
    const tools = await findTools(
      ['pg_dump', 'pg_restore'],
      version.rows[0]!.major,
      this.options.pgBinDir ?? process.env.TENANTRY_PG_BIN_DIR,
    );
    const from = toolConnection(this.core.hosts.url(this.row.from_host));
    const to = toolConnection(this.core.hosts.url(this.row.to_host));
    const dump = startTool(
      tools.pg_dump,
      ['--format=custom', `--schema=${this.schema}`, '--no-owner', '--no-acl', `--dbname=${from.dbname}`],
      { env: from.env, stdout: 'pipe' },
    );
    const restore = startTool(
      tools.pg_restore,
      ['--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', `--dbname=${to.dbname}`],
      { env: to.env, stdin: 'pipe' },
    );
    dump.child.stdout?.pipe(restore.child.stdin!);
    restore.child.stdin?.on('error', () => {});
    await Promise.all([dump.done, restore.done]);
  }
}

class CatchUpTimeout extends Error {
  override name = 'CatchUpTimeout';
}

/** A recorded move, or the tenant's unfinished one. */
export async function moveToResume(core: Core, tenantId: string): Promise<MoveRow> {
  const row = await unfinishedMove(core.hosts.db(DEFAULT_HOST), assertTenantId(tenantId));
  if (!row) throw new MoveError(`tenant "${tenantId}" has no unfinished move`, 'not_found');
  return row;
}

/**
 * Finishes moves a crash left past their switch (the server's reconciler, every process): the registry
 * switch and the clean-up. Moves another process is working on (its advisory lock) are skipped.
 */
export async function finishInterruptedMoves(
  core: Core,
  onSwitched?: (tenantId: string) => void,
): Promise<string[]> {
  const result = await sql<{ id: string }>`SELECT id FROM public.tenant_moves
    WHERE state IN ('switching', 'switched') ORDER BY created_at`.execute(core.hosts.db(DEFAULT_HOST));
  const finished: string[] = [];
  for (const { id } of result.rows) {
    try {
      const moved = await runMove(core, id, { finishOnly: true, onSwitched });
      if (moved.state === 'done') finished.push(moved.tenant_id);
    } catch (error) {
      if (!(error instanceof MoveError && error.kind === 'conflict')) throw error;
    }
  }
  return finished;
}
