/**
 * The whole-database dump at fleet size: one exported snapshot, several pg_dump runs.
 *
 * pg_dump locks every table it dumps until it ends, and the server's lock table is small (see
 * lock-budget.ts), so a database whose relations do not fit in one step's lock budget is dumped as a main
 * archive (everything except the registered tenants' schemas: public, the job queue, extensions…) and one
 * part per batch of tenant schemas. Every pg_dump runs with `--snapshot` of the transaction the caller
 * holds open (pg_export_snapshot), so all of them — and the row counts of the manifest — see the same
 * instant of the database: the archives together are one consistent backup.
 *
 * What a snapshot cannot cover is DDL committed after it: pg_dump reads definitions in the snapshot but
 * locks and reads tables as they are now, and a table rewritten since (ALTER TABLE … TYPE) would be dumped
 * empty. Before each step the schemas are therefore locked against migrations and deletions (shared
 * migration locks of the runner, per step, few at a time) and their catalog (relations' oid, file node
 * and row version) is compared in the snapshot and now: a difference means DDL ran in between, and the
 * backup stops with nothing stored rather than write an archive that may not match its snapshot.
 */
import type pg from 'pg';
import { schemaLockKeySql } from '../migrations/runner.ts';
import { connect } from './connection.ts';
import type { BackupContext } from './context.ts';
import { BackupError } from './errors.ts';
import {
  isOutOfLocks,
  type LockLimits,
  lockHint,
  outOfLocksError,
  planBatches,
  type SchemaWeight,
  schemaWeights,
} from './lock-budget.ts';
import { countTables, type TableCount } from './manifest.ts';
import { partSuffix } from './naming.ts';
import { type FoundTool, runTool, toolConnection } from './pg-tools.ts';

export interface DumpedPart {
  file: string;
  schemas: string[];
}

export interface DatabaseDump {
  tables: TableCount[];
  parts: DumpedPart[];
}

/** A schema name as a pg_dump pattern that matches exactly it (no wildcards, case kept). */
const exactPattern = (schema: string) => `"${schema.replaceAll('"', '""')}"`;

const sum = (weights: SchemaWeight[]) => weights.reduce((total, w) => total + w.relations, 0);

export async function dumpDatabase(input: {
  context: BackupContext;
  /** The transaction that exported `snapshot`, still open. */
  holder: pg.Client;
  snapshot: string;
  limits: LockLimits;
  /** Registered tenant ids: the schemas that may go into parts. */
  tenantIds: Set<string>;
  pgDump: FoundTool;
  /** The main archive; parts are `<file>.part-NNNN`. */
  file: string;
}): Promise<DatabaseDump> {
  const { context, holder, snapshot, limits, tenantIds, pgDump, file } = input;
  const weights = await schemaWeights(holder);
  const fits = sum(weights) <= limits.budget;
  const batched = fits ? [] : weights.filter((w) => tenantIds.has(w.schema));
  const inParts = new Set(batched.map((w) => w.schema));
  const main = weights.filter((w) => !inParts.has(w.schema));
  if (sum(main) > limits.budget) {
    throw new BackupError(
      `the schemas outside tenant batches (${main.map((w) => w.schema).join(', ')}) hold ${sum(main)} relations, more than one dump step may lock: ${lockHint(limits)}`,
    );
  }
  const batches = planBatches(batched, limits);
  const steps = [
    {
      label: 'main archive',
      file,
      schemas: main.map((w) => w.schema),
      args: batched.map((w) => `--exclude-schema=${exactPattern(w.schema)}`),
    },
    ...batches.map((schemas, i) => ({
      label: `part ${i + 1} of ${batches.length} (${schemas.length} tenant schemas)`,
      file: `${file}${partSuffix(i)}`,
      schemas,
      args: schemas.map((schema) => `--schema=${exactPattern(schema)}`),
    })),
  ];
  if (batches.length > 0) {
    context.log(
      `${weights.length} schemas, ${sum(weights).toLocaleString('en')} relations: more than one dump step may lock ` +
        `(${limits.budget.toLocaleString('en')}); dumping a main archive and ${batches.length} part(s) of tenant schemas from one snapshot`,
    );
  }

  const connection = toolConnection(input.context.url);
  const worker = await connect(context.url);
  const tables: TableCount[] = [];
  try {
    for (const step of steps) {
      context.log(`dumping ${step.label}`);
      const seen = await inSnapshot(worker, snapshot, async () => {
        tables.push(...(await countTables(worker, step.schemas)));
        return catalogFingerprint(worker, step.schemas);
      });
      await lockSchemas(worker, step.schemas);
      try {
        if ((await catalogFingerprint(worker, step.schemas)) !== seen) {
          throw new BackupError(
            `the definitions in ${step.schemas.length === 1 ? `schema ${step.schemas[0]}` : `schemas ${step.schemas.slice(0, 5).join(', ')}${step.schemas.length > 5 ? '…' : ''}`} changed during the backup (a migration, a deletion or other DDL after its snapshot); nothing was stored — run the backup again`,
          );
        }
        await runTool(
          pgDump,
          [
            '--format=custom',
            `--snapshot=${snapshot}`,
            `--file=${step.file}`,
            ...step.args,
            ...(context.verbose ? ['--verbose'] : []),
            `--dbname=${connection.dbname}`,
          ],
          { env: connection.env, verbose: context.verbose },
        ).catch((error: unknown) => {
          throw isOutOfLocks(error) ? outOfLocksError(`pg_dump (${step.label})`, limits, error) : error;
        });
      } finally {
        await worker.query('SELECT pg_advisory_unlock_all()');
      }
    }
  } finally {
    await worker.end().catch(() => {});
  }
  return {
    tables: tables.sort((a, b) => a.schema.localeCompare(b.schema) || a.table.localeCompare(b.table)),
    parts: steps.slice(1).map((step) => ({ file: step.file, schemas: step.schemas })),
  };
}

/** Runs `work` on `client` in a read-only transaction that sees the exported snapshot. */
async function inSnapshot<T>(client: pg.Client, snapshot: string, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SET TRANSACTION SNAPSHOT ${client.escapeLiteral(snapshot)}`);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * The schemas' relations as (oid, file node, row version): any DDL on them (a new column or index, a
 * rewrite, a drop) changes it. Read in whichever snapshot the client's statement runs in.
 */
async function catalogFingerprint(client: pg.Client, schemas: string[]): Promise<string> {
  const { rows } = await client.query<{ fingerprint: string }>(
    `SELECT md5(coalesce(string_agg(n.oid || '/' || c.oid || '/' || c.relfilenode || '/' || c.xmin,
                                    ',' ORDER BY n.oid, c.oid), '')) AS fingerprint
       FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
      WHERE n.nspname = ANY ($1)`,
    [schemas],
  );
  return rows[0]!.fingerprint;
}

/**
 * The runner's migration lock of each schema, shared and held by this session until
 * pg_advisory_unlock_all: migrations and deletions of these schemas wait until the step is dumped, dumps
 * do not wait for each other.
 */
async function lockSchemas(client: pg.Client, schemas: string[]): Promise<void> {
  for (let start = 0; start < schemas.length; start += 100) {
    const slice = schemas.slice(start, start + 100);
    await client.query(
      `SELECT ${slice.map((schema) => `pg_advisory_lock_shared(${schemaLockKeySql(schema)})`).join(', ')}`,
    );
  }
}
