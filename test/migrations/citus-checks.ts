/**
 * What keeps a tenant schema distributable by Citus 12's schema-based sharding (docs/scaling.md), checked
 * without Citus: a distributed schema's tables live on one node, so nothing in it may point into another
 * schema (another tenant's, or a local table of the coordinator such as `public.tenants`).
 *
 *  - `catalogProblems`: from the catalog of a migrated schema — foreign keys into another schema
 *    (pg_constraint), and any dependency (pg_depend) of the schema's tables, columns' defaults,
 *    sequences, views and functions on a table, sequence, view, function or type of another schema that
 *    is not part of an extension (extensions are installed on every node: host-level revisions) nor of
 *    pg_catalog; plus function bodies that name another schema (PL/pgSQL bodies are not in pg_depend).
 *  - `qualifiedReferences`: a static check of SQL text — `schema.name` where `schema` is a schema of the
 *    database (or `public`) other than the extension objects allowed there.
 */
import { sql } from 'kysely';
import type { AnyDb } from '../../src/db/hosts.ts';

const SYSTEM = ['pg_catalog', 'information_schema', 'pg_toast'];

export async function catalogProblems(db: AnyDb, schema: string): Promise<string[]> {
  const problems: string[] = [];
  const foreignKeys = await sql<{ name: string; target: string }>`
    SELECT c.conname AS name, fn.nspname || '.' || f.relname AS target
      FROM pg_constraint c
      JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
      JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
     WHERE c.contype = 'f' AND n.nspname = ${schema} AND fn.nspname <> ${schema}`.execute(db);
  for (const fk of foreignKeys.rows) problems.push(`foreign key ${fk.name} references ${fk.target}`);

  // Every object of the schema (relations, their column defaults, rewrite rules of views, functions)
  // and what it depends on in another, non-system schema, outside any extension.
  const dependencies = await sql<{ object: string; target: string }>`
    WITH mine AS (
      SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${schema}
      UNION ALL
      SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d
        JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ${schema}
      UNION ALL
      SELECT 'pg_rewrite'::regclass, w.oid FROM pg_rewrite w
        JOIN pg_class c ON c.oid = w.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ${schema}
      UNION ALL
      SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ${schema}
    ),
    targets AS (
      SELECT 'pg_class'::regclass AS classid, c.oid AS objid, n.nspname, n.nspname || '.' || c.relname AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      UNION ALL
      SELECT 'pg_proc'::regclass, p.oid, n.nspname, n.nspname || '.' || p.proname || '()'
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      UNION ALL
      SELECT 'pg_type'::regclass, t.oid, n.nspname, n.nspname || '.' || t.typname
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    )
    SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid) AS object, t.name AS target
      FROM pg_depend d
      JOIN mine m ON m.classid = d.classid AND m.objid = d.objid
      JOIN targets t ON t.classid = d.refclassid AND t.objid = d.refobjid
     WHERE t.nspname <> ${schema} AND t.nspname <> ALL(${SYSTEM}::text[])
       AND NOT EXISTS (SELECT 1 FROM pg_depend e
                        WHERE e.classid = d.refclassid AND e.objid = d.refobjid AND e.deptype = 'e')
     ORDER BY 1, 2`.execute(db);
  for (const dep of dependencies.rows) problems.push(`${dep.object} depends on ${dep.target}`);

  const bodies = await sql<{ name: string; source: string }>`
    SELECT p.proname AS name, p.prosrc AS source FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ${schema}`.execute(db);
  const others = (await schemasOf(db)).filter((name) => name !== schema);
  for (const body of bodies.rows) {
    const source = withoutSettingNames(body.source);
    for (const other of others) {
      if (new RegExp(`(^|[^\\w$])"?${other}"?\\s*\\.`, 'i').test(source))
        problems.push(`function ${schema}.${body.name}() names schema ${other}`);
    }
  }
  return problems;
}

/**
 * A function body without the names of run-time settings read or set by `current_setting('x.y')` /
 * `set_config('x.y', …)`: a custom setting such as `tenantry.actor` is a session variable, not an object
 * of schema `tenantry`. Every other text, string literals of dynamic SQL included, is still checked.
 */
function withoutSettingNames(source: string): string {
  return source.replace(/\b(current_setting|set_config)\s*\(\s*'(?:[^']|'')*'/gi, "$1(''");
}

/** Schemas of the database other than the system ones. */
export async function schemasOf(db: AnyDb): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    SELECT nspname AS name FROM pg_namespace
     WHERE nspname <> ALL(${SYSTEM}::text[]) AND nspname NOT LIKE 'pg\\_%'`.execute(db);
  return rows.rows.map((row) => row.name);
}

/** Names of extension members in `public` (e.g. pg_trgm's gin_trgm_ops): the allowed `public.x`. */
export async function extensionObjectsInPublic(db: AnyDb): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    SELECT oc.opcname AS name FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace
      JOIN pg_depend d ON d.classid = 'pg_opclass'::regclass AND d.objid = oc.oid AND d.deptype = 'e'
     WHERE n.nspname = 'public'
    UNION
    SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
     WHERE n.nspname = 'public'
    UNION
    SELECT o.oprname FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
      JOIN pg_depend d ON d.classid = 'pg_operator'::regclass AND d.objid = o.oid AND d.deptype = 'e'
     WHERE n.nspname = 'public'`.execute(db);
  return rows.rows.map((row) => row.name);
}

/** SQL without comments and string literals (their text is data, not names). */
function codeOnly(text: string): string {
  return text
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''");
}

/**
 * `schema.name` references in SQL text whose qualifier is one of `schemas` (or `public`), except
 * `public.<extension object>` and pg_catalog. Aliases (`r.name` in `FROM roles r`) are not schemas.
 */
export function qualifiedReferences(text: string, schemas: string[], allowedInPublic: string[]): string[] {
  const forbidden = new Set([...schemas, 'public'].map((s) => s.toLowerCase()));
  const found: string[] = [];
  for (const match of codeOnly(text).matchAll(/"?([A-Za-z_][\w$]*)"?\s*\.\s*"?([A-Za-z_][\w$]*)"?/g)) {
    const [qualifier, name] = [match[1]!.toLowerCase(), match[2]!];
    if (!forbidden.has(qualifier)) continue;
    if (qualifier === 'public' && allowedInPublic.includes(name)) continue;
    found.push(`${qualifier}.${name}`);
  }
  return found;
}
