/**
 * The one place where a transaction is retried (SPEC 11, issue 14): a serialization failure or a
 * deadlock is a condition two ordinary requests can cause, so the server runs the transaction once more
 * before answering. Once, not in a loop: a second failure means real contention, answered 503 +
 * Retry-After by the error handler (src/db/sqlstate.ts lists both codes as "busy").
 *
 * A deadlock between our own requests is still a design bug — locks are taken in one global order
 * (registry row → schema advisory lock → list position lock → task row; see src/routes/tasks/
 * task-locks.ts) — the retry covers what remains: a lock someone else (an operator's session, a
 * migration) takes in another order, and the work's own optimistic checks (`RetryableConflict`).
 */
import type { Kysely, Transaction } from 'kysely';
import type pg from 'pg';
import { isRetryable, isStalePlan, SQLSTATE } from './sqlstate.ts';

/**
 * Thrown by a transaction's work when what it read before taking its locks changed in the meantime
 * (e.g. a task moved to another list between reading its list and locking the list's positions). It
 * carries serialization_failure's code, so `inTransaction` runs the work again from the start.
 */
export class RetryableConflict extends Error {
  override name = 'RetryableConflict';
  readonly code = SQLSTATE.SERIALIZATION_FAILURE;
}

/**
 * Our own optimistic conflicts may be retried a few more times: each one means another transaction
 * committed a move of the same task, so progress is made; a deadlock or serialization failure from
 * PostgreSQL is retried once.
 */
const CONFLICT_ATTEMPTS = 10;

async function retryOnce<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const limit = error instanceof RetryableConflict ? CONFLICT_ATTEMPTS : 2;
      if (!(isRetryable(error) || isStalePlan(error)) || tries >= limit) throw error;
    }
  }
}

/** `db.transaction().execute(work)`, run once more after a serialization failure or deadlock. */
export function inTransaction<DB, T>(db: Kysely<DB>, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return retryOnce(() => db.transaction().execute(work));
}

/**
 * A transaction on one pooled client, for hot paths that send named prepared statements (which Kysely's
 * transactions cannot): `begin` is sent with BEGIN as one simple query (one round trip), then `work`,
 * then COMMIT. Retried once like `inTransaction`, and once after a prepared plan a migration made stale
 * (`isStalePlan`): that connection is dropped with its statements, so the retry prepares them afresh.
 */
export function onClientInTransaction<T>(
  connect: () => Promise<pg.PoolClient>,
  begin: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return retryOnce(async () => {
    const client = await connect();
    let broken: unknown;
    let staleConnection: Error | undefined;
    try {
      await client.query(`BEGIN; ${begin}`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (isStalePlan(error)) staleConnection = error as Error;
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A client whose ROLLBACK failed is in an unknown state: the pool drops it instead of reusing it.
      client.release(broken instanceof Error ? broken : staleConnection);
    }
  });
}
