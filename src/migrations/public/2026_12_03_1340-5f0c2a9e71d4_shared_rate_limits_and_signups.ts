/**
 * Two account tables every worker process shares (issue 14, "Accounts under attack"):
 *
 *  - `rate_limits`: fixed-window counters of the account endpoints (login failures per e-mail and client
 *    address, per address, per e-mail; sign-ups; password resets; one-time links). Kept in PostgreSQL so
 *    that N worker processes (and N servers) count together instead of granting N× the budget. UNLOGGED:
 *    the counts are minutes-lived, need no WAL, and losing them in a crash only reopens the windows.
 *  - `signups`: companies signed up and not verified yet. The periodic clean-up deletes the tenant
 *    (schema, registry and directory rows) when its owner has not verified within
 *    UNVERIFIED_SIGNUP_HOURS; verifying deletes the row. The cascade removes it with its tenant.
 */
import { sql } from 'kysely';
import type { MigrationFunction } from '../migration-set.ts';

export const description = 'Shared rate-limit counters and pending sign-ups';
export const follows = '5d0c1e7a94b2';

export const up: MigrationFunction = async (db) => {
  await sql`
    CREATE UNLOGGED TABLE rate_limits (
      key            text PRIMARY KEY CHECK (length(key) <= 400),
      hits           integer NOT NULL CHECK (hits >= 0),
      window_ends_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX rate_limits_window_idx ON rate_limits (window_ends_at)`.execute(db);

  await sql`
    CREATE TABLE signups (
      tenant_id  text PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX signups_created_idx ON signups (created_at)`.execute(db);
};

export const down: MigrationFunction = async (db) => {
  await sql`DROP TABLE signups`.execute(db);
  await sql`DROP TABLE rate_limits`.execute(db);
};
