/**
 * Tenant moves as durable jobs (issue 17): `POST /cc/tenants/{id}/move` records the move
 * (`public.tenant_moves`, state queued) and enqueues one `tenant-move` job in one transaction; any
 * process's runner executes it (src/tenancy/moves/move-engine.ts); `GET /cc/jobs/{id}` answers from the
 * move's row, with its steps as progress.
 *
 * A process killed mid-move leaves the move's state behind; the job is released by the heartbeat sweep
 * (src/jobs/queue.ts) and its retry finishes or undoes the move from that state.
 */
import { sql } from 'kysely';
import type { Core } from '../core.ts';
import type { AnyDb } from '../db/hosts.ts';
import { runMove, startMove } from '../tenancy/moves/move-engine.ts';
import type { MoveRow, MoveStep } from '../tenancy/moves/move-store.ts';
import { enqueue } from './queue.ts';

export const MOVE_TASK = 'tenant-move';
/** A crash counts as an attempt; the move itself resumes from its recorded state. */
const MOVE_MAX_ATTEMPTS = 10;

export async function createMoveJob(
  core: Core,
  tenantId: string,
  host: string,
  options: { dryRun?: boolean } = {},
): Promise<string> {
  return startMove(core, tenantId, host, {
    dryRun: options.dryRun,
    inTransaction: async (trx, id) => {
      await enqueue(
        trx,
        MOVE_TASK,
        { move_id: id },
        { jobKey: `move:${id}`, maxAttempts: MOVE_MAX_ATTEMPTS },
      );
    },
  });
}

/** The `tenant-move` task: throws (→ retried) only when the move could not reach an end. */
export async function runMoveJob(
  core: Core,
  moveId: string,
  onSwitched: (tenantId: string) => void,
): Promise<void> {
  await runMove(core, moveId, { onSwitched });
}

export type MoveJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface MoveJobView {
  job_id: string;
  kind: 'move';
  status: MoveJobStatus;
  tenant_id: string;
  from: string;
  to: string;
  dry_run: boolean;
  method: string | null;
  method_note: string | null;
  state: MoveRow['state'];
  step: string;
  steps: MoveStep[];
  attempts: number;
  hold_ms: number | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const STATUS: Record<MoveRow['state'], MoveJobStatus> = {
  queued: 'queued',
  copying: 'running',
  switching: 'running',
  switched: 'running',
  done: 'succeeded',
  undone: 'failed',
  failed: 'failed',
};

const iso = (value: Date | null) => (value === null ? null : new Date(value).toISOString());

export async function moveJobView(db: AnyDb, id: string): Promise<MoveJobView | undefined> {
  const result = await sql<MoveRow>`SELECT * FROM public.tenant_moves WHERE id = ${id}`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    job_id: row.id,
    kind: 'move',
    status: STATUS[row.state],
    tenant_id: row.tenant_id,
    from: row.from_host,
    to: row.to_host,
    dry_run: row.dry_run,
    method: row.method,
    method_note: row.method_note,
    state: row.state,
    step: row.step,
    steps: row.steps,
    attempts: row.attempts,
    hold_ms: typeof row.detail.hold_ms === 'number' ? row.detail.hold_ms : null,
    error: row.error,
    created_at: new Date(row.created_at).toISOString(),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
  };
}
