/**
 * Instant sign-up (issue 15): a few tenant schemas already migrated to head wait on the default host
 * (`public.schema_pool`, public revision 8c2f4e6a1b3d). Creating a tenant there claims one in the same
 * transaction as its registry row and owner: `SELECT … FOR UPDATE SKIP LOCKED` (concurrent creations
 * take different schemas, never wait for each other), `ALTER SCHEMA … RENAME`, delete the pool row. A
 * rename costs no relation file and no fsync, unlike building ~100 relations. Only rows at the running
 * code's head are claimed; when none is left, creation builds the schema as before.
 *
 * The pool is refilled by the job `schema-pool-refill` (src/jobs/jobs-plugin.ts): enqueued in the
 * claiming transaction with a job key (one refill waits at a time, however many claims) and by cron. A
 * refill first brings pool schemas behind head to head (a deploy with a new revision), then builds the
 * missing ones. Pool schemas are named `_pool_<hex>`, which is not a tenant id: tenant lists, checks and
 * the orphan report (src/tenancy/orphans.ts) never see them.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { type AnyDb, type DatabaseHosts, DEFAULT_HOST } from '../db/hosts.ts';
import { enqueue } from '../jobs/queue.ts';
import type { MigrationRunner } from '../migrations/runner.ts';

export const SCHEMA_POOL_REFILL_TASK = 'schema-pool-refill';

export class SchemaPool {
  constructor(
    private readonly hosts: DatabaseHosts,
    private readonly runner: MigrationRunner,
    /** Schemas kept ready (SCHEMA_POOL_SIZE); 0 disables the pool. */
    readonly size: number,
  ) {}

  /**
   * Inside the caller's transaction on the default host: renames a pool schema at head to `tenantId`
   * and asks for a refill. False (nothing done) when the pool is off or has no schema at head.
   */
  async claim(conn: AnyDb, tenantId: string): Promise<boolean> {
    if (this.size === 0) return false;
    const found = await sql<{ schema: string }>`
      SELECT schema FROM public.schema_pool
       WHERE host = ${DEFAULT_HOST} AND revision = ${this.runner.set.head}
       ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(conn);
    const pooled = found.rows[0]?.schema;
    if (!pooled) return false;
    await sql`ALTER SCHEMA ${sql.id(pooled)} RENAME TO ${sql.id(tenantId)}`.execute(conn);
    await sql`DELETE FROM public.schema_pool WHERE schema = ${pooled}`.execute(conn);
    await enqueue(conn, SCHEMA_POOL_REFILL_TASK, {}, { jobKey: SCHEMA_POOL_REFILL_TASK });
    return true;
  }

  /** Brings pool schemas behind head to head, then builds the missing ones. */
  async refill(): Promise<{ upgraded: number; created: number }> {
    const db = this.hosts.db(DEFAULT_HOST);
    const head = this.runner.set.head;
    let upgraded = 0;
    const behind = await sql<{ schema: string }>`
      SELECT schema FROM public.schema_pool WHERE host = ${DEFAULT_HOST} AND revision IS DISTINCT FROM ${head}`.execute(
      db,
    );
    for (const { schema } of behind.rows) {
      await this.runner.upgrade(
        { host: DEFAULT_HOST, db, schema },
        {
          mustExist: true,
          inTransaction: async (conn) => {
            await sql`UPDATE public.schema_pool SET revision = ${head} WHERE schema = ${schema}`.execute(
              conn,
            );
          },
        },
      );
      upgraded++;
    }
    const counted = await sql<{ count: string }>`
      SELECT count(*) AS count FROM public.schema_pool WHERE host = ${DEFAULT_HOST}`.execute(db);
    const missing = this.size - Number(counted.rows[0]?.count ?? 0);
    let created = 0;
    for (let i = 0; i < missing; i++) {
      const schema = `_pool_${randomBytes(8).toString('hex')}`;
      await this.runner.upgrade(
        { host: DEFAULT_HOST, db, schema },
        {
          mustBeNew: true,
          inTransaction: async (conn) => {
            await sql`INSERT INTO public.schema_pool (schema, host, revision)
              VALUES (${schema}, ${DEFAULT_HOST}, ${head})`.execute(conn);
          },
        },
      );
      created++;
    }
    return { upgraded, created };
  }

  /** Schemas waiting, at head or not (tests, metrics). */
  async count(): Promise<number> {
    const counted = await sql<{ count: string }>`
      SELECT count(*) AS count FROM public.schema_pool WHERE host = ${DEFAULT_HOST}`.execute(
      this.hosts.db(DEFAULT_HOST),
    );
    return Number(counted.rows[0]?.count ?? 0);
  }
}
