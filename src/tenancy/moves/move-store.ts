/**
 * The `public.tenant_moves` rows (public revision 8c3e5a17d2b9): a move's recorded state, written step by
 * step on the default host. `state` is what recovery reads; `step`/`steps` are progress for people.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AnyDb } from '../../db/hosts.ts';
import { SQLSTATE, sqlState } from '../../db/sqlstate.ts';

export type MoveState = 'queued' | 'copying' | 'switching' | 'switched' | 'done' | 'undone' | 'failed';
export type MoveMethod = 'logical' | 'dump';

export const UNFINISHED_STATES: readonly MoveState[] = ['queued', 'copying', 'switching', 'switched'];

export interface MoveStep {
  step: string;
  at: string;
  note?: string;
}

export interface MoveRow {
  id: string;
  tenant_id: string;
  from_host: string;
  to_host: string;
  dry_run: boolean;
  method: MoveMethod | null;
  method_note: string | null;
  state: MoveState;
  step: string;
  steps: MoveStep[];
  detail: Record<string, unknown>;
  error: string | null;
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

/** Another move of the tenant has not finished (the partial unique index said so). */
export class MoveConflictError extends Error {
  override name = 'MoveConflictError';
  constructor(
    readonly tenantId: string,
    readonly moveId: string | undefined,
  ) {
    super(
      `tenant "${tenantId}" has an unfinished move${moveId ? ` (${moveId})` : ''}: finish or undo it with "tenants move ${tenantId} --resume"`,
    );
  }
}

export async function insertMove(
  db: AnyDb,
  move: { tenant_id: string; from_host: string; to_host: string; dry_run: boolean },
): Promise<string> {
  const id = randomUUID();
  try {
    await sql`INSERT INTO public.tenant_moves (id, tenant_id, from_host, to_host, dry_run)
      VALUES (${id}, ${move.tenant_id}, ${move.from_host}, ${move.to_host}, ${move.dry_run})`.execute(db);
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION) {
      throw new MoveConflictError(move.tenant_id, (await unfinishedMove(db, move.tenant_id))?.id);
    }
    throw error;
  }
  return id;
}

export async function findMove(db: AnyDb, id: string): Promise<MoveRow | undefined> {
  const result = await sql<MoveRow>`SELECT * FROM public.tenant_moves WHERE id = ${id}`.execute(db);
  return result.rows[0];
}

export async function unfinishedMove(db: AnyDb, tenantId: string): Promise<MoveRow | undefined> {
  const result = await sql<MoveRow>`SELECT * FROM public.tenant_moves
    WHERE tenant_id = ${tenantId} AND state IN ('queued', 'copying', 'switching', 'switched')`.execute(db);
  return result.rows[0];
}

/** Every unfinished move (leftover sweeps keep their objects). */
export async function unfinishedMoveIds(db: AnyDb): Promise<Set<string>> {
  const result = await sql<{ id: string }>`SELECT id FROM public.tenant_moves
    WHERE state IN ('queued', 'copying', 'switching', 'switched')`.execute(db);
  return new Set(result.rows.map((row) => row.id));
}

/** Records progress: the step (appended to `steps`), and optionally a new state and other columns. */
export async function recordStep(
  db: AnyDb,
  id: string,
  step: string,
  changes: {
    state?: MoveState;
    note?: string;
    method?: MoveMethod;
    methodNote?: string;
    detail?: Record<string, unknown>;
    error?: string | null;
    attempt?: boolean;
  } = {},
): Promise<void> {
  const entry: MoveStep = {
    step,
    at: new Date().toISOString(),
    ...(changes.note ? { note: changes.note } : {}),
  };
  const terminal = changes.state === 'done' || changes.state === 'undone' || changes.state === 'failed';
  await sql`UPDATE public.tenant_moves SET
      step = ${step},
      steps = steps || ${JSON.stringify([entry])}::jsonb,
      state = coalesce(${changes.state ?? null}::text, state),
      method = coalesce(${changes.method ?? null}::text, method),
      method_note = coalesce(${changes.methodNote ?? null}::text, method_note),
      detail = detail || ${JSON.stringify(changes.detail ?? {})}::jsonb,
      error = CASE WHEN ${changes.error !== undefined} THEN ${changes.error ?? null}::text ELSE error END,
      attempts = attempts + ${changes.attempt ? 1 : 0},
      started_at = coalesce(started_at, now()),
      finished_at = CASE WHEN ${terminal} THEN now() ELSE finished_at END,
      updated_at = now()
    WHERE id = ${id}`.execute(db);
}
