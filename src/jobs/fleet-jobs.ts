/**
 * Fleet migrations as durable jobs (issue 16): `POST /cc/migrate` and `db upgrade head --all
 * --background` insert a `public.fleet_jobs` row and enqueue one `fleet-migrate` job in one transaction;
 * any process's runner executes it; any process answers `GET /cc/jobs/{id}` from the tables.
 *
 * The job plans its tenants once (rows in `fleet_job_tenants`, wave 0 = canary, 1 = the rest) and then
 * claims them one by one from the table. A process killed mid-job leaves rows `running`; when the job
 * runs again (released by the heartbeat sweep, src/jobs/queue.ts) those go back to `pending` and are run
 * again — safe, because an upgrade is one transaction under the schema's advisory lock and a schema at
 * the target has nothing to apply (never migrated twice), while finished rows are never touched again.
 *
 * Waves: the canary wave runs first and must finish; any canary failure halts the job. `max_failures`
 * (a count or a percentage of the job's tenants) halts the job once failures exceed it: status `halted`,
 * remaining tenants stay `pending`; `resume` puts failed tenants back to `pending` and runs it again.
 * `cancel` stops it between tenants (a running tenant's transaction finishes).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Core } from '../core.ts';
import type { AnyDb } from '../db/hosts.ts';
import { describeError, type FleetOutcome, upgradeFleet } from '../migrations/fleet.ts';
import { enqueue } from './queue.ts';

export const FLEET_TASK = 'fleet-migrate';
/** A crash or a graceful shutdown counts as an attempt; plenty, since the work itself is resumable. */
const FLEET_MAX_ATTEMPTS = 25;

export interface FleetJobRequest {
  target?: string;
  dry_run?: boolean;
  concurrency?: number;
  tenants?: string[];
  only_failed?: boolean;
  host?: string;
  /** Canary wave: the first N tenants (by id) or these tenant ids. */
  canary?: number | string[];
  /** Halt once failures exceed this count, or this percentage of the job's tenants ("10%"). */
  max_failures?: number | string;
}

export type FleetJobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'halted' | 'cancelled';

export class FleetJobError extends Error {
  override name = 'FleetJobError';
  constructor(
    message: string,
    readonly kind: 'not_found' | 'conflict' | 'bad_request',
  ) {
    super(message);
  }
}

/** Parses `--max-failures` / `max_failures`: a whole number or a percentage. */
export function parseMaxFailures(raw: string | number): number | string {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
  const text = String(raw).trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (/^\d+(\.\d+)?%$/.test(text) && Number.parseFloat(text) <= 100) return text;
  throw new FleetJobError(
    `max failures "${raw}": expected a count (e.g. 3) or a percentage (e.g. 10%)`,
    'bad_request',
  );
}

/** Inserts the job and enqueues it, in one transaction on the default host. */
export async function createFleetJob(db: AnyDb, request: FleetJobRequest): Promise<string> {
  if (request.max_failures !== undefined) parseMaxFailures(request.max_failures);
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await sql`INSERT INTO public.fleet_jobs (id, request) VALUES (${id}, ${JSON.stringify(request)}::jsonb)`.execute(
      trx,
    );
    await enqueue(
      trx,
      FLEET_TASK,
      { job_id: id },
      { jobKey: `fleet:${id}`, maxAttempts: FLEET_MAX_ATTEMPTS },
    );
  });
  return id;
}

/** Asks a job to stop between tenants; a job not running yet (or halted) is cancelled at once. */
export async function cancelFleetJob(db: AnyDb, id: string): Promise<FleetJobStatus> {
  const result = await sql<{ status: FleetJobStatus }>`
    UPDATE public.fleet_jobs SET cancel_requested = true, updated_at = now(),
      status = CASE WHEN status IN ('queued', 'halted') THEN 'cancelled' ELSE status END,
      finished_at = CASE WHEN status IN ('queued', 'halted') THEN now() ELSE finished_at END
    WHERE id = ${id} RETURNING status`.execute(db);
  const row = result.rows[0];
  if (!row) throw new FleetJobError(`job ${id} does not exist`, 'not_found');
  return row.status;
}

/** Continues a halted job (or a failed one) after a fix: its failed tenants run again. */
export async function resumeFleetJob(db: AnyDb, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const result = await sql<{ status: FleetJobStatus }>`
      SELECT status FROM public.fleet_jobs WHERE id = ${id} FOR UPDATE`.execute(trx);
    const row = result.rows[0];
    if (!row) throw new FleetJobError(`job ${id} does not exist`, 'not_found');
    if (row.status !== 'halted' && row.status !== 'failed')
      throw new FleetJobError(
        `job ${id} is ${row.status}; only a halted or failed job can be resumed`,
        'conflict',
      );
    await sql`UPDATE public.fleet_job_tenants SET status = 'pending', error = NULL
      WHERE job_id = ${id} AND status = 'failed'`.execute(trx);
    await sql`UPDATE public.fleet_jobs SET status = 'queued', error = NULL, finished_at = NULL, updated_at = now()
      WHERE id = ${id}`.execute(trx);
    await enqueue(
      trx,
      FLEET_TASK,
      { job_id: id },
      { jobKey: `fleet:${id}`, maxAttempts: FLEET_MAX_ATTEMPTS },
    );
  });
}

interface JobRow {
  id: string;
  status: FleetJobStatus;
  request: FleetJobRequest;
  cancel_requested: boolean;
}

type TenantStatus = 'pending' | 'running' | FleetOutcome;

/** Ends the job if something asks it to stop; returns true when it must stop. */
async function shouldStop(db: AnyDb, id: string, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) throw new Error('released: the process is shutting down; another run resumes the job');
  const result = await sql<{ cancel_requested: boolean; status: FleetJobStatus }>`
    SELECT cancel_requested, status FROM public.fleet_jobs WHERE id = ${id}`.execute(db);
  const row = result.rows[0];
  if (!row) return true;
  if (row.cancel_requested) {
    await finish(db, id, 'cancelled', null);
    return true;
  }
  return false;
}

async function finish(db: AnyDb, id: string, status: FleetJobStatus, error: string | null): Promise<void> {
  await sql`UPDATE public.fleet_jobs SET status = ${status}, error = ${error}, finished_at = now(), updated_at = now()
    WHERE id = ${id}`.execute(db);
}

/** The job's tenants, planned once: the registry filtered as the request says, canary tenants first. */
async function plan(core: Core, db: AnyDb, job: JobRow): Promise<void> {
  const { request } = job;
  const tenants = await core.registry.list({
    tenants: request.tenants,
    host: request.host,
    onlyFailed: request.only_failed,
    statuses: ['active', 'suspended'],
  });
  tenants.sort((a, b) => a.tenant_id.localeCompare(b.tenant_id));
  const canary = new Set(
    Array.isArray(request.canary)
      ? request.canary
      : tenants.slice(0, request.canary ?? 0).map((tenant) => tenant.tenant_id),
  );
  await db.transaction().execute(async (trx) => {
    const already =
      await sql`SELECT 1 FROM public.fleet_job_tenants WHERE job_id = ${job.id} LIMIT 1`.execute(trx);
    if (already.rows.length > 0) return;
    await sql`
      INSERT INTO public.fleet_job_tenants (job_id, tenant_id, host, wave, position)
      SELECT ${job.id}, t.tenant_id, t.host, t.wave, t.position
      FROM unnest(${tenants.map((t) => t.tenant_id)}::text[], ${tenants.map((t) => t.host)}::text[],
                  ${tenants.map((t) => (canary.has(t.tenant_id) ? 0 : 1))}::smallint[])
        WITH ORDINALITY AS t(tenant_id, host, wave, position)`.execute(trx);
  });
}

function failureBound(maxFailures: number | string | undefined, total: number): number {
  if (maxFailures === undefined) return Number.POSITIVE_INFINITY;
  const parsed = parseMaxFailures(maxFailures);
  return typeof parsed === 'number' ? parsed : (Number.parseFloat(parsed) / 100) * total;
}

/** The `fleet-migrate` task. Throws (→ graphile-worker retries it) only when it must be run again. */
export async function runFleetJob(
  core: Core,
  id: string,
  signal: AbortSignal,
  onTenantDone: (tenantId: string) => void,
): Promise<void> {
  const db = core.hosts.db();
  const found = await sql<JobRow>`
    SELECT id, status, request, cancel_requested FROM public.fleet_jobs WHERE id = ${id}`.execute(db);
  const job = found.rows[0];
  if (!job || ['succeeded', 'failed', 'halted', 'cancelled'].includes(job.status)) return;
  if (await shouldStop(db, id, signal)) return;
  await sql`UPDATE public.fleet_jobs SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
    WHERE id = ${id}`.execute(db);
  await plan(core, db, job);
  // Rows a killed run left `running`: this run owns the job now (graphile-worker's lock), so run them again.
  await sql`UPDATE public.fleet_job_tenants SET status = 'pending'
    WHERE job_id = ${id} AND status = 'running'`.execute(db);

  const totals = await sql<{ total: number }>`
    SELECT count(*)::int AS total FROM public.fleet_job_tenants WHERE job_id = ${id}`.execute(db);
  const bound = failureBound(job.request.max_failures, totals.rows[0]?.total ?? 0);
  const concurrency = Math.max(1, job.request.concurrency ?? 4);

  for (const wave of [0, 1]) {
    let halted = false;
    let stopped = false;
    const worker = async () => {
      while (!halted && !stopped) {
        if (await shouldStop(db, id, signal)) {
          stopped = true;
          return;
        }
        const claimed = await sql<{ tenant_id: string }>`
          UPDATE public.fleet_job_tenants SET status = 'running', attempts = attempts + 1, started_at = now()
          WHERE (job_id, tenant_id) = (
            SELECT job_id, tenant_id FROM public.fleet_job_tenants
            WHERE job_id = ${id} AND wave = ${wave} AND status = 'pending'
            ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING tenant_id`.execute(db);
        const tenantId = claimed.rows[0]?.tenant_id;
        if (tenantId === undefined) return;
        await runTenant(core, db, id, job.request, tenantId);
        onTenantDone(tenantId);
        const failed = await sql<{ failed: number }>`
          SELECT count(*)::int AS failed FROM public.fleet_job_tenants
          WHERE job_id = ${id} AND status = 'failed'`.execute(db);
        const failures = failed.rows[0]?.failed ?? 0;
        if (failures > bound || (wave === 0 && failures > 0)) halted = true;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (stopped) return;
    if (halted) {
      await finish(
        db,
        id,
        'halted',
        wave === 0 ? 'a canary tenant failed' : 'failures exceeded max_failures',
      );
      return;
    }
  }
  const failed = await sql<{ failed: number }>`
    SELECT count(*)::int AS failed FROM public.fleet_job_tenants WHERE job_id = ${id} AND status = 'failed'`.execute(
    db,
  );
  await finish(db, id, (failed.rows[0]?.failed ?? 0) > 0 ? 'failed' : 'succeeded', null);
}

/** One tenant through the fleet code (version check, upgrade, registry record), its outcome in its row. */
async function runTenant(
  core: Core,
  db: AnyDb,
  id: string,
  request: FleetJobRequest,
  tenantId: string,
): Promise<void> {
  let status: TenantStatus;
  let result: { from: string | null; to: string | null; error: string | null; duration_ms: number };
  try {
    const report = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, {
      target: request.target,
      dryRun: request.dry_run,
      tenants: [tenantId],
      concurrency: 1,
    });
    const one = report.results[0];
    if (!one) {
      status = 'failed';
      result = { from: null, to: null, error: 'the tenant no longer exists', duration_ms: 0 };
    } else {
      status = one.outcome;
      result = one;
    }
  } catch (error) {
    status = 'failed';
    result = { from: null, to: null, error: describeError(error), duration_ms: 0 };
  }
  // A rerun after a crash finds a tenant its first run had upgraded already: it was upgraded by this job.
  await sql`
    UPDATE public.fleet_job_tenants SET
      status = CASE WHEN ${status} = 'up_to_date' AND attempts > 1 AND from_revision IS DISTINCT FROM ${result.to}
                    THEN 'upgraded' ELSE ${status} END,
      from_revision = CASE WHEN attempts > 1 AND from_revision IS NOT NULL THEN from_revision ELSE ${result.from} END,
      to_revision = ${result.to}, error = ${result.error}, duration_ms = ${result.duration_ms}, finished_at = now()
    WHERE job_id = ${id} AND tenant_id = ${tenantId}`.execute(db);
}

export interface FleetJobView {
  job_id: string;
  kind: 'migrate';
  status: FleetJobStatus;
  request: FleetJobRequest;
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: { done: number; total: number | null };
  summary: {
    total: number;
    pending: number;
    upgraded: number;
    up_to_date: number;
    would_upgrade: number;
    failed: number;
  };
  results: Array<{
    tenant_id: string;
    host: string;
    wave: 'canary' | 'main';
    status: TenantStatus;
    from: string | null;
    to: string | null;
    error: string | null;
    attempts: number;
    duration_ms: number | null;
    finished_at: string | null;
  }>;
  error: string | null;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export async function fleetJobView(db: AnyDb, id: string): Promise<FleetJobView | undefined> {
  const jobs = await sql<{
    id: string;
    status: FleetJobStatus;
    request: FleetJobRequest;
    cancel_requested: boolean;
    error: string | null;
    created_at: Date;
    started_at: Date | null;
    finished_at: Date | null;
  }>`SELECT id, status, request, cancel_requested, error, created_at, started_at, finished_at
     FROM public.fleet_jobs WHERE id = ${id}`.execute(db);
  const job = jobs.rows[0];
  if (!job) return undefined;
  const tenants = await sql<{
    tenant_id: string;
    host: string;
    wave: number;
    status: TenantStatus;
    from_revision: string | null;
    to_revision: string | null;
    error: string | null;
    attempts: number;
    duration_ms: number | null;
    finished_at: Date | null;
  }>`SELECT tenant_id, host, wave, status, from_revision, to_revision, error, attempts, duration_ms, finished_at
     FROM public.fleet_job_tenants WHERE job_id = ${id} ORDER BY wave, position`.execute(db);
  const count = (status: TenantStatus) => tenants.rows.filter((row) => row.status === status).length;
  const total = tenants.rows.length;
  const done = tenants.rows.filter((row) => row.status !== 'pending' && row.status !== 'running').length;
  return {
    job_id: job.id,
    kind: 'migrate',
    status: job.status,
    request: job.request,
    cancel_requested: job.cancel_requested,
    created_at: new Date(job.created_at).toISOString(),
    started_at: iso(job.started_at),
    finished_at: iso(job.finished_at),
    progress: { done, total: job.status === 'queued' && total === 0 ? null : total },
    summary: {
      total,
      pending: count('pending') + count('running'),
      upgraded: count('upgraded'),
      up_to_date: count('up_to_date'),
      would_upgrade: count('would_upgrade'),
      failed: count('failed'),
    },
    results: tenants.rows.map((row) => ({
      tenant_id: row.tenant_id,
      host: row.host,
      wave: row.wave === 0 ? 'canary' : 'main',
      status: row.status,
      from: row.from_revision,
      to: row.to_revision,
      error: row.error,
      attempts: row.attempts,
      duration_ms: row.duration_ms,
      finished_at: iso(row.finished_at),
    })),
    error: job.error,
  };
}

export interface FleetJobSummary {
  job_id: string;
  status: FleetJobStatus;
  request: FleetJobRequest;
  created_at: string;
  finished_at: string | null;
  total: number;
  done: number;
  failed: number;
}

/** History, newest first. */
export async function listFleetJobs(
  db: AnyDb,
  page: number,
  size: number,
): Promise<{ items: FleetJobSummary[]; total: number }> {
  const rows = await sql<{
    id: string;
    status: FleetJobStatus;
    request: FleetJobRequest;
    created_at: Date;
    finished_at: Date | null;
    total: number;
    done: number;
    failed: number;
  }>`
    SELECT j.id, j.status, j.request, j.created_at, j.finished_at,
           count(t.tenant_id)::int AS total,
           count(t.tenant_id) FILTER (WHERE t.status NOT IN ('pending', 'running'))::int AS done,
           count(t.tenant_id) FILTER (WHERE t.status = 'failed')::int AS failed
    FROM (SELECT * FROM public.fleet_jobs ORDER BY created_at DESC, id LIMIT ${size} OFFSET ${(page - 1) * size}) j
    LEFT JOIN public.fleet_job_tenants t ON t.job_id = j.id
    GROUP BY j.id, j.status, j.request, j.created_at, j.finished_at
    ORDER BY j.created_at DESC, j.id`.execute(db);
  const count = await sql<{ total: number }>`SELECT count(*)::int AS total FROM public.fleet_jobs`.execute(
    db,
  );
  return {
    items: rows.rows.map((row) => ({
      job_id: row.id,
      status: row.status,
      request: row.request,
      created_at: new Date(row.created_at).toISOString(),
      finished_at: iso(row.finished_at),
      total: row.total,
      done: row.done,
      failed: row.failed,
    })),
    total: count.rows[0]?.total ?? 0,
  };
}
