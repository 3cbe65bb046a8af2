/**
 * How many relations one pg_dump (or one pg_restore --single-transaction) may touch on this server, and the
 * batches of tenant schemas a whole-database backup is cut into so each stays under it.
 *
 * pg_dump holds a lock on every table (and reads every sequence, detoasts through toast tables) until it
 * ends; a restore in one transaction locks every relation it creates. All of them live in ONE shared lock
 * table of max_locks_per_transaction × (max_connections + max_prepared_transactions) entries — 6,400 with
 * PostgreSQL's defaults, which managed services keep — shared by every session of the server. One tenant
 * is ~100 relations (17 tables, 46 indexes, 12 sequences, 13 toast tables and their indexes), so a single
 * pg_dump of 1,000 tenants fails with "out of shared memory". A batch is given half of the table: the other
 * half stays for the application running meanwhile.
 *
 * A schema's weight is every relation in it plus its toast tables and their indexes (they live in
 * pg_toast): a restore of it in one transaction locks all of them, counting its rows in the snapshot locks
 * tables and indexes (planning opens them), pg_dump locks tables and sequences (and toast tables where it
 * reads toasted values). One weight for the three keeps one batching; pg_dump alone would need about half.
 */
import type pg from 'pg';
import { BackupError } from './errors.ts';

export interface LockLimits {
  maxLocksPerTransaction: number;
  maxConnections: number;
  maxPreparedTransactions: number;
  /** Entries of the shared lock table. */
  capacity: number;
  /** Relations one dump or restore transaction may lock. */
  budget: number;
}

export async function readLockLimits(client: pg.Client): Promise<LockLimits> {
  const { rows } = await client.query<{ locks: string; connections: string; prepared: string }>(
    `SELECT current_setting('max_locks_per_transaction') AS locks,
            current_setting('max_connections') AS connections,
            current_setting('max_prepared_transactions') AS prepared`,
  );
  const row = rows[0]!;
  const limits = {
    maxLocksPerTransaction: Number(row.locks),
    maxConnections: Number(row.connections),
    maxPreparedTransactions: Number(row.prepared),
  };
  const capacity = limits.maxLocksPerTransaction * (limits.maxConnections + limits.maxPreparedTransactions);
  return { ...limits, capacity, budget: Math.floor(capacity / 2) };
}

/** What to tell an operator whose server's lock table is too small for what must be locked at once. */
export function lockHint(limits: LockLimits): string {
  return (
    `the server's lock table holds max_locks_per_transaction (${limits.maxLocksPerTransaction}) × ` +
    `(max_connections (${limits.maxConnections}) + max_prepared_transactions (${limits.maxPreparedTransactions})) = ` +
    `${limits.capacity.toLocaleString('en')} locks shared by every session, and one dump or restore step may use half ` +
    `(${limits.budget.toLocaleString('en')}); raise max_locks_per_transaction (e.g. to 256; it takes a server restart) — ` +
    'see "Backups at fleet size" in the README'
  );
}

/** pg_dump / pg_restore / psql died for want of lock table space: say what to change. */
export function isOutOfLocks(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /out of shared memory|max_locks_per_transaction/.test(text);
}

export function outOfLocksError(step: string, limits: LockLimits, error: unknown): BackupError {
  const detail = error instanceof Error ? error.message : String(error);
  return new BackupError(
    `${step} ran out of lock table space ("out of shared memory"): ${lockHint(limits)}\n  ${detail}`,
  );
}

export interface SchemaWeight {
  schema: string;
  /** Every relation of the schema with its toast tables and indexes (see the file comment). */
  relations: number;
}

/** Every user schema with its weights, in the caller's snapshot (catalog reads lock nothing that matters). */
export async function schemaWeights(client: pg.Client): Promise<SchemaWeight[]> {
  const { rows } = await client.query<SchemaWeight>(
    `SELECT n.nspname AS schema,
            -- a toast table always has exactly one index
            (count(c.oid) + 2 * count(c.oid) FILTER (WHERE c.reltoastrelid <> 0))::int AS relations
       FROM pg_namespace n
       LEFT JOIN pg_class c ON c.relnamespace = n.oid
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
        AND n.nspname NOT LIKE 'pg\\_%'
      GROUP BY n.nspname
      ORDER BY n.nspname`,
  );
  return rows;
}

/**
 * Cuts `schemas` (in order) into batches whose weights add up to at most the budget; a schema heavier than
 * the budget alone is refused with the hint, before anything is dumped.
 */
export function planBatches(schemas: SchemaWeight[], limits: LockLimits): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let weight = 0;
  for (const { schema, relations } of schemas) {
    if (relations > limits.budget) {
      throw new BackupError(
        `schema ${schema} has ${relations} relations, more than one dump or restore step may lock: ${lockHint(limits)}`,
      );
    }
    if (weight + relations > limits.budget && current.length > 0) {
      batches.push(current);
      current = [];
      weight = 0;
    }
    current.push(schema);
    weight += relations;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
