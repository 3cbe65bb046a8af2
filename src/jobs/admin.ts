/**
 * What an operator sees of the queue (CLI `tenantry jobs …`, `/health/db`): graphile-worker's jobs
 * through its public view `graphile_worker.jobs`. graphile-worker deletes a job once it succeeds, so the
 * queue holds what is waiting, running, retrying, or failed for good (attempts used up) — the failed
 * list is where an undeliverable e-mail ends. Fleet jobs keep their history in `public.fleet_jobs`.
 */
import { sql } from 'kysely';
import type { AnyDb } from '../db/hosts.ts';

export type QueueJobState = 'pending' | 'retrying' | 'running' | 'failed';

export interface QueueJob {
  id: string;
  task: string;
  state: QueueJobState;
  attempts: number;
  max_attempts: number;
  run_at: string;
  created_at: string;
  locked_by: string | null;
  key: string | null;
  last_error: string | null;
  payload?: unknown;
}

const STATE = sql`CASE
  WHEN j.attempts >= j.max_attempts AND j.locked_at IS NULL THEN 'failed'
  WHEN j.locked_at IS NOT NULL THEN 'running'
  WHEN j.last_error IS NOT NULL THEN 'retrying'
  ELSE 'pending' END`;

interface Row {
  id: string;
  task: string;
  state: QueueJobState;
  attempts: number;
  max_attempts: number;
  run_at: Date;
  created_at: Date;
  locked_by: string | null;
  key: string | null;
  last_error: string | null;
  payload?: unknown;
}

const view = (row: Row): QueueJob => ({
  ...row,
  run_at: new Date(row.run_at).toISOString(),
  created_at: new Date(row.created_at).toISOString(),
});

export async function listQueueJobs(
  db: AnyDb,
  options: { state?: QueueJobState; limit?: number } = {},
): Promise<QueueJob[]> {
  const result = await sql<Row>`
    SELECT * FROM (
      SELECT j.id::text AS id, j.task_identifier AS task, ${STATE} AS state, j.attempts, j.max_attempts,
             j.run_at, j.created_at, j.locked_by, j.key, j.last_error
      FROM graphile_worker.jobs j) q
    WHERE ${options.state ?? null}::text IS NULL OR q.state = ${options.state ?? null}::text
    ORDER BY q.run_at, q.id::bigint LIMIT ${options.limit ?? 100}`.execute(db);
  return result.rows.map(view);
}

export async function showQueueJob(db: AnyDb, id: string): Promise<QueueJob | undefined> {
  const result = await sql<Row>`
    SELECT j.id::text AS id, j.task_identifier AS task, ${STATE} AS state, j.attempts, j.max_attempts,
           j.run_at, j.created_at, j.locked_by, j.key, j.last_error, p.payload
    FROM graphile_worker.jobs j JOIN graphile_worker._private_jobs p ON p.id = j.id
    WHERE j.id = ${id}::bigint`.execute(db);
  const row = result.rows[0];
  return row ? view(row) : undefined;
}

/** Runs a waiting, retrying or failed job now with its attempts reset; false if it is running or gone. */
export async function retryQueueJob(db: AnyDb, id: string): Promise<boolean> {
  const result = await sql`
    UPDATE graphile_worker._private_jobs SET attempts = 0, run_at = now(), updated_at = now()
    WHERE id = ${id}::bigint AND locked_at IS NULL`.execute(db);
  if (Number(result.numAffectedRows ?? 0) === 0) return false;
  // The wake-up graphile-worker's add_job sends (same payload shape), so an idle runner takes it now.
  await sql`SELECT pg_notify('jobs:insert', '{"r":' || random()::text || ',"count":1}')`.execute(db);
  return true;
}

/** Deletes a job that is not running (graphile-worker's own `complete_jobs` skips locked ones). */
export async function cancelQueueJob(db: AnyDb, id: string): Promise<boolean> {
  const result = await sql<{ id: string }>`
    SELECT id::text FROM graphile_worker.complete_jobs(ARRAY[${id}::bigint])`.execute(db);
  return result.rows.length > 0;
}

export interface QueueStats {
  pending: number;
  running: number;
  failed: number;
  oldest_pending_age_s: number | null;
}

export async function queueStats(db: AnyDb): Promise<QueueStats> {
  const result = await sql<QueueStats>`
    SELECT count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts)::int AS pending,
           count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS running,
           count(*) FILTER (WHERE locked_at IS NULL AND attempts >= max_attempts)::int AS failed,
           round(extract(epoch FROM now() - min(run_at) FILTER (
             WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now())))::int AS oldest_pending_age_s
    FROM graphile_worker._private_jobs`.execute(db);
  return result.rows[0] ?? { pending: 0, running: 0, failed: 0, oldest_pending_age_s: null };
}
