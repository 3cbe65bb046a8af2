/**
 * The job queue (issue 16): graphile-worker 0.17 used as a library, on the default host's database.
 *
 * - Enqueue with `enqueue(db, …)`: the SQL function `graphile_worker.add_job` on whatever handle the
 *   caller gives — a transaction makes the job part of it (transactional outbox), the pool enqueues at
 *   once. The same call serves the server and the CLI.
 * - `JobRunner` runs tasks in this process (started with the server, stopped on graceful shutdown:
 *   graphile-worker lets running jobs finish, aborts their `abortSignal` after
 *   `gracefulShutdownAbortTimeout`, and fails (→ retries later) those that still have not returned).
 * - Crash recovery: graphile-worker 0.17 leaves a job locked by a killed process locked for 4 hours.
 *   Each runner beats in `public.job_worker_heartbeats` for its worker pool's id (what jobs are locked
 *   by), and releases the jobs of pools whose beat is older than 3 intervals (`releaseOrphans`), so a SIGKILLed process's job is
 *   resumed by another (or the restarted) process within seconds.
 *
 * Its schema is created by the public revision 495e6c3295bd, not here (see that file).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  Logger,
  type ParsedCronItem,
  parseCronItems,
  type Runner,
  run,
  type TaskList,
  type WorkerEvents,
} from 'graphile-worker';
import { sql } from 'kysely';
import type pg from 'pg';
import type pino from 'pino';
import type { AnyDb } from '../db/hosts.ts';
import { isDatabaseUnavailable } from '../db/sqlstate.ts';

export const WORKER_SCHEMA = 'graphile_worker';

export interface EnqueueOptions {
  /** De-duplication: while a job with this key waits, another enqueue with it replaces it (one send). */
  jobKey?: string;
  maxAttempts?: number;
  runAt?: Date;
  /** Jobs of one queue name run one at a time, in order (e.g. one webhook's deliveries). */
  queueName?: string;
  /** graphile-worker's job_key_mode: `preserve_run_at` keeps a waiting job's scheduled time (back-off). */
  jobKeyMode?: 'replace' | 'preserve_run_at';
}

/** Adds a job through SQL on `db` (a transaction, or a pool on the default host). Returns its id. */
export async function enqueue(
  db: AnyDb,
  task: string,
  payload: unknown,
  options: EnqueueOptions = {},
): Promise<string> {
  const result = await sql<{ id: string }>`
    SELECT (graphile_worker.add_job(
      identifier => ${task},
      payload => ${JSON.stringify(payload)}::json,
      run_at => ${options.runAt?.toISOString() ?? null}::timestamptz,
      max_attempts => ${options.maxAttempts ?? null}::int,
      job_key => ${options.jobKey ?? null}::text,
      queue_name => ${options.queueName ?? null}::text,
      job_key_mode => ${options.jobKeyMode ?? 'replace'}::text
    )).id::text AS id`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error(`add_job returned no job for ${task}`);
  return row.id;
}

export interface RunnerSettings {
  /** Jobs run at once in this process. */
  concurrency: number;
  /** How often to look for jobs scheduled later (retries); new jobs wake the runner through NOTIFY. */
  pollIntervalMs: number;
  /** How often this process proves it is alive; a worker silent for 3 intervals is presumed dead. */
  heartbeatMs: number;
  /** How long a graceful shutdown waits before aborting running jobs (they are retried elsewhere). */
  shutdownAbortMs: number;
}

export interface CronTask {
  task: string;
  /** Five-field crontab pattern (UTC). */
  pattern: string;
}

export class JobRunner {
  private runner: Runner | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private readonly workerIds = new Set<string>();
  readonly processId = `${process.pid}-${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly pool: pg.Pool,
    private readonly db: AnyDb,
    private readonly settings: RunnerSettings,
    private readonly log: pino.Logger,
  ) {}

  async start(tasks: TaskList, cron: CronTask[]): Promise<void> {
    const events: WorkerEvents = new EventEmitter();
    // In 0.17 jobs are locked by the worker pool's id (`locked_by`), one pool per runner.
    events.on('pool:create', ({ workerPool }) => {
      this.workerIds.add(workerPool.id);
    });
    events.on('pool:release', ({ workerPool }) => {
      this.workerIds.delete(workerPool.id);
    });
    const parsedCronItems: ParsedCronItem[] = parseCronItems(
      cron.map((item) => ({
        task: item.task,
        match: item.pattern,
        identifier: item.task,
        // A missed schedule (every process down) is not caught up: these are idempotent clean-ups.
        options: { backfillPeriod: 0, maxAttempts: 3 },
      })),
    );
    this.runner = await run({
      pgPool: this.pool,
      schema: WORKER_SCHEMA,
      concurrency: this.settings.concurrency,
      pollInterval: this.settings.pollIntervalMs,
      gracefulShutdownAbortTimeout: this.settings.shutdownAbortMs,
      noHandleSignals: true,
      logger: pinoLogger(this.log),
      events,
      taskList: tasks,
      parsedCronItems,
    });
    await this.beat();
    this.heartbeat = setInterval(() => {
      this.beating = this.beat().catch((error: unknown) =>
        this.log.warn({ err: error }, 'job heartbeat failed'),
      );
    }, this.settings.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Records this process's workers as alive, then releases the jobs of workers that stopped beating. */
  private async beat(): Promise<void> {
    const ids = [...this.workerIds];
    if (ids.length > 0) {
      await sql`
        INSERT INTO public.job_worker_heartbeats (worker_id, process, beat_at)
        SELECT id, ${this.processId}, now() FROM unnest(${ids}::text[]) AS id
        ON CONFLICT (worker_id) DO UPDATE SET beat_at = now()`.execute(this.db);
    }
    const released = await releaseOrphans(this.db, this.settings.heartbeatMs * 3);
    if (released > 0) this.log.warn({ released }, 'released jobs of job workers that stopped beating');
  }

  /** Graceful: running jobs finish (or are aborted, failed and retried elsewhere), then we forget our beats. */
  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.beating;
    const runner = this.runner;
    this.runner = undefined;
    if (!runner) return;
    await runner.stop();
    await sql`DELETE FROM public.job_worker_heartbeats WHERE process = ${this.processId}`
      .execute(this.db)
      .catch(() => {});
  }
}

/**
 * Unlocks jobs (and named queues) held by workers with no heartbeat newer than `staleMs`, locked at
 * least that long ago (a worker that just started may lock a job before its first beat). Such a job runs
 * again: attempt counts go on, so a job that kills its process every time still ends failed.
 */
export async function releaseOrphans(db: AnyDb, staleMs: number): Promise<number> {
  const stale = `${Math.ceil(staleMs)} milliseconds`;
  const result = await sql<{ id: string }>`
    WITH orphans AS (
      SELECT j.id FROM graphile_worker._private_jobs j
      WHERE j.locked_by IS NOT NULL
        AND j.locked_at < now() - ${stale}::interval
        AND NOT EXISTS (
          SELECT 1 FROM public.job_worker_heartbeats h
          WHERE h.worker_id = j.locked_by AND h.beat_at > now() - ${stale}::interval
        )
      FOR UPDATE SKIP LOCKED
    )
    UPDATE graphile_worker._private_jobs j SET locked_by = NULL, locked_at = NULL, run_at = now()
    FROM orphans WHERE j.id = orphans.id
    RETURNING j.id::text AS id`.execute(db);
  await sql`
    UPDATE graphile_worker._private_job_queues q SET locked_by = NULL, locked_at = NULL
    WHERE q.locked_by IS NOT NULL AND q.locked_at < now() - ${stale}::interval
      AND NOT EXISTS (
        SELECT 1 FROM public.job_worker_heartbeats h
        WHERE h.worker_id = q.locked_by AND h.beat_at > now() - ${stale}::interval
      )`.execute(db);
  await sql`DELETE FROM public.job_worker_heartbeats WHERE beat_at < now() - interval '1 day'`.execute(db);
  return result.rows.length;
}

function pinoLogger(log: pino.Logger): Logger {
  return new Logger((scope) => (level, message, meta) => {
    const fields = { ...scope, ...(meta?.error ? { err: meta.error } : {}) };
    // The database going away is an outage the runner rides out (it reconnects), not a fault of ours:
    // a warning, like the registry's LISTEN reconnects, so error-level logs stay for real faults.
    const outage = isDatabaseUnavailable(meta?.error) || /not queryable|Connection terminated/.test(message);
    if (level === 'error' && !outage) log.error(fields, message);
    else if (level === 'error') log.warn(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else if (level === 'info') log.info(fields, message);
    else log.debug(fields, message);
  });
}
