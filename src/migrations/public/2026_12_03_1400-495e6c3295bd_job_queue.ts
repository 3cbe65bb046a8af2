/**
 * The job queue (issue 16): graphile-worker's schema `graphile_worker`, plus Tenantry's own tables for
 * fleet jobs (a parent job and its per-tenant progress) and the liveness of job workers.
 *
 * Why the library's schema is installed here and not by the library at run time: so that `db check`,
 * `db current` and the deploy gate see it, a dry run proves it, and it is created in the runner's
 * transaction under its advisory lock like every other public revision.
 *
 * How: we replay graphile-worker's own migration files (`migrations` of its `dist/generated/sql`, the
 * text its `migrate()` runs) rather than call its `runMigrations`. `runMigrations` opens its own
 * connection and commits each of its migrations itself, outside this revision's transaction, so a
 * dry run could not roll it back and a failure could leave half a schema. Replaying the same text and
 * recording the same rows in `graphile_worker.migrations` (id and the `breaking` flag, exactly as its
 * `installSchema`/`runMigration` write them) keeps the library's version check happy: at start it finds
 * its newest migration already recorded and runs nothing. The replay is pinned to migrations 1..19
 * (graphile-worker 0.17.x); test/jobs/queue-schema.test.ts fails when an upgraded library ships a 20th,
 * which then needs a new public revision replaying it.
 */
import { createRequire } from 'node:module';
import { sql } from 'kysely';
import type { MigrationFunction } from '../migration-set.ts';

export const description = 'Job queue: graphile-worker schema, fleet jobs, job worker heartbeats';
export const follows = '5f1c0a9d2e47';

/** The graphile-worker migrations this revision installs (those of 0.17.x). */
export const GRAPHILE_MIGRATIONS_REPLAYED = 19;
const SCHEMA = '"graphile_worker"';

function graphileMigrations(): Array<{ id: number; text: string; breaking: boolean }> {
  const require = createRequire(import.meta.url);
  const { migrations } = require('graphile-worker/dist/generated/sql.js') as {
    migrations: Record<string, string>;
  };
  return Object.entries(migrations)
    .map(([file, text]) => ({
      id: Number.parseInt(file.slice(0, 6), 10),
      text: text.replace(/:GRAPHILE_WORKER_SCHEMA\b/g, SCHEMA),
      breaking: text.startsWith('--! breaking'),
    }))
    .filter((migration) => migration.id <= GRAPHILE_MIGRATIONS_REPLAYED)
    .sort((a, b) => a.id - b.id);
}

export const up: MigrationFunction = async (db) => {
  const replayed = graphileMigrations();
  if (replayed.length !== GRAPHILE_MIGRATIONS_REPLAYED)
    throw new Error(
      `graphile-worker ships ${replayed.length} of the ${GRAPHILE_MIGRATIONS_REPLAYED} migrations this revision replays`,
    );
  // graphile-worker's installSchema (bootstrap), then each migration and its row, as its migrate() does.
  await sql.raw(`CREATE SCHEMA ${SCHEMA}`).execute(db);
  await sql
    .raw(
      `CREATE TABLE ${SCHEMA}.migrations (id int PRIMARY KEY, ts timestamptz DEFAULT now() NOT NULL, breaking boolean NOT NULL DEFAULT false)`,
    )
    .execute(db);
  for (const migration of replayed) {
    await sql.raw(migration.text).execute(db);
    await sql
      .raw(`INSERT INTO ${SCHEMA}.migrations (id, breaking) VALUES (${migration.id}, ${migration.breaking})`)
      .execute(db);
  }

  // A fleet migration run as a job: the parent row; its tenants are planned when the job first runs.
  await sql`
    CREATE TABLE fleet_jobs (
      id uuid PRIMARY KEY,
      kind text NOT NULL DEFAULT 'migrate',
      status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'halted', 'cancelled')),
      request jsonb NOT NULL,
      cancel_requested boolean NOT NULL DEFAULT false,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      finished_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX fleet_jobs_created_at ON fleet_jobs (created_at DESC, id)`.execute(db);
  // One row per tenant of a fleet job. wave 0 = canary tenants, 1 = the rest.
  await sql`
    CREATE TABLE fleet_job_tenants (
      job_id uuid NOT NULL REFERENCES fleet_jobs (id) ON DELETE CASCADE,
      tenant_id text NOT NULL,
      host text NOT NULL,
      wave smallint NOT NULL,
      position integer NOT NULL,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'upgraded', 'up_to_date', 'would_upgrade', 'failed')),
      from_revision text,
      to_revision text,
      error text,
      attempts integer NOT NULL DEFAULT 0,
      duration_ms integer,
      started_at timestamptz,
      finished_at timestamptz,
      PRIMARY KEY (job_id, tenant_id)
    )`.execute(db);
  await sql`CREATE INDEX fleet_job_tenants_order ON fleet_job_tenants (job_id, wave, position)`.execute(db);
  // graphile-worker 0.17 leaves a job locked by a killed process for 4 hours; each process beats here
  // for its worker ids so that others can release the jobs of a process that stopped beating.
  await sql`
    CREATE TABLE job_worker_heartbeats (
      worker_id text PRIMARY KEY,
      process text NOT NULL,
      beat_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
};

export const down: MigrationFunction = async (db) => {
  await sql`DROP TABLE job_worker_heartbeats`.execute(db);
  await sql`DROP TABLE fleet_job_tenants`.execute(db);
  await sql`DROP TABLE fleet_jobs`.execute(db);
  await sql.raw(`DROP SCHEMA ${SCHEMA} CASCADE`).execute(db);
};
