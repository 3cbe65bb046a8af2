/**
 * pg_trgm for the task search of every tenant (tenant revision 7f315a3921b2 builds a trigram index on
 * title + description). Extensions are database-wide objects, so the extension lives here, in the shared
 * schema, once per database; tenant revisions reference its operator class qualified
 * (`public.gin_trgm_ops`). pg_trgm is a trusted extension (PostgreSQL ≥ 13): a database owner without
 * superuser may create it.
 */
export const description = 'pg_trgm extension for trigram search indexes';
export const follows = '2528612d7f84';

export const up = `
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
`;

/**
 * Drops the extension only when nothing depends on it: tenant schemas still at or past 7f315a3921b2 keep
 * trigram indexes, and a public downgrade must never cascade into them. The PL/pgSQL exception block is
 * an implicit savepoint, so a refused DROP leaves the runner's transaction usable.
 */

export const down = `
DO $$
BEGIN
  DROP EXTENSION IF EXISTS pg_trgm;
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'pg_trgm kept: tenant indexes still use it';
END
$$;
`;
