/**
 * The locks of task positions, and THE LOCK ORDER every write of the TODO domain follows (issue 14):
 *
 *   registry row → schema advisory lock → list position lock(s), by key → task row → list row (KEY SHARE,
 *   taken by foreign keys)
 *
 * A transaction may skip steps but never goes back: whoever holds a task row never waits for a position
 * lock. Before, a PATCH locked its task row and then waited for the list's position lock, while the
 * holder of that lock shifted positions and so waited for the PATCH's task row: 36 of 50 concurrent
 * reorders of one list died as deadlocks (40P01). Now a PATCH that moves a task reads the task's list
 * without locking, takes the position locks of the lists concerned (smallest key first), and only then
 * locks the task row; if the task moved in between, the transaction starts over
 * (`RetryableConflict`, src/db/transaction.ts). Deleting and restoring a task do the same, and creating
 * one takes its list's position lock before computing "last + 1".
 *
 * Position locks are transaction-scoped advisory locks, one per (schema, list) — the inbox is one list —
 * so positions stay distinct and dense (1..n per list) under any concurrency. Lists' own positions have
 * their own lock (ListsRepository.lockPositions), which never coexists with these in one transaction.
 */
import { createHash } from 'node:crypto';

/**
 * The advisory-lock key of a list's task positions (null: the inbox): 64 bits of a hash of schema and list
 * uuid. Computed here rather than in SQL so the one-round-trip `BEGIN; SELECT pg_advisory_xact_lock(…)`
 * of task creation carries a number, never text from a request.
 */
export function positionLockKey(schema: string, listUuid: string | null): bigint {
  return createHash('sha256')
    .update(`${schema}:tasks:${listUuid ?? 'inbox'}`)
    .digest()
    .readBigInt64BE(0);
}

/**
 * One statement taking the position locks of these lists in the global order (ascending key, each once;
 * PostgreSQL evaluates a select list left to right).
 */
export function positionLocksSql(schema: string, listUuids: ReadonlyArray<string | null>): string {
  const keys = [...new Set(listUuids.map((uuid) => positionLockKey(schema, uuid)))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return `SELECT ${keys.map((key) => `pg_advisory_xact_lock(${key.toString()})`).join(', ')}`;
}
