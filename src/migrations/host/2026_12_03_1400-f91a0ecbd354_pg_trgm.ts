/**
 * Host level (issue 13, "Every database host is ready for tenants"): what tenant revisions need from the
 * DATABASE they live in, applied by the runner to every host (src/tenancy/host-migrations.ts) and
 * recorded per host in `tenantry.schema_migrations`. Tenant revision 7f315a3921b2 builds a trigram index
 * with `public.gin_trgm_ops`, so every host needs pg_trgm in its public schema — not only the default
 * host, which also gets it from public revision 0a06f682cfbb (IF NOT EXISTS: whichever runs first).
 * pg_trgm is a trusted extension (PostgreSQL ≥ 13): a database owner without superuser may create it.
 */
import { sql } from 'kysely';
import type { MigrationFunction } from '../migration-set.ts';

export const description = 'pg_trgm extension in public, for tenant trigram indexes';
export const follows = null;

export const up: MigrationFunction = async (db) => {
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public`.execute(db);
};

/** Kept while anything depends on it (tenant indexes): the exception block is an implicit savepoint. */
export const down: MigrationFunction = async (db) => {
  await sql`
    DO $$
    BEGIN
      DROP EXTENSION IF EXISTS pg_trgm;
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'pg_trgm kept: tenant indexes still use it';
    END
    $$`.execute(db);
};
