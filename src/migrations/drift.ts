/**
 * Schema drift (SPEC 5.2 `tenantry db drift`): compares each tenant's catalog — tables, columns, types,
 * defaults, constraints, indexes — with a reference schema freshly migrated to head.
 *
 * The reference is built the dry-run way: a scratch schema migrated inside a transaction that is rolled
 * back after its catalog is read, so nothing is left behind. One reference per host, since hosts may run
 * different server versions (which print defaults differently).
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AnyDb, DatabaseHosts } from '../db/hosts.ts';
import type { TenantRegistry } from '../tenancy/registry.ts';
import { type MigrationRunner, quotedIdentifier } from './runner.ts';

/** A catalog: one sorted line per object, names in the schema itself unqualified (see catalogSnapshot). */
export type CatalogSnapshot = string[];

export interface DriftEntry {
  tenant_id: string;
  host: string;
  /** Lines in the reference missing from the tenant. */
  missing: string[];
  /** Lines in the tenant absent from the reference. */
  unexpected: string[];
}

export interface DriftReport {
  checked: number;
  drifted: number;
  tenants: DriftEntry[];
}

/**
 * Reads the catalog of `schema` as comparable text lines, structurally: PostgreSQL itself prints the
 * definitions (pretty mode) with search_path set to the schema alone, so objects of the schema are printed
 * unqualified — whatever the schema is called — and objects elsewhere (an operator class in public) stay
 * qualified. No text is rewritten afterwards, so a tenant named `s` or `tasks` compares like any other.
 * The read runs in a transaction of its own, or, with `inOpenTransaction`, in the caller's (which must not
 * be on a pooled connection shared with others).
 */
export async function catalogSnapshot(
  db: AnyDb,
  schema: string,
  options: { inOpenTransaction?: boolean } = {},
): Promise<CatalogSnapshot> {
  if (!options.inOpenTransaction) {
    return db.transaction().execute((trx) => catalogSnapshot(trx, schema, { inOpenTransaction: true }));
  }
  await sql`SELECT set_config('search_path', ${`${quotedIdentifier(schema)}, pg_catalog`}, true)`.execute(db);
  const result = await sql<{ line: string }>`
    WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = ${schema})
    SELECT 'table ' || c.relname || ' (' || c.relkind::text || ')' AS line
      FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
           || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid, true), '')
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN ns ON c.relnamespace = ns.oid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || c.relname || '.' || con.conname || ' ' || pg_get_constraintdef(con.oid, true)
      FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN ns ON c.relnamespace = ns.oid
    UNION ALL
    SELECT 'index ' || i.relname || ' ' || pg_get_indexdef(i.oid, 0, true)
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN ns ON i.relnamespace = ns.oid
    UNION ALL
    SELECT 'sequence ' || c.relname
      FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
     WHERE c.relkind = 'S'
    UNION ALL
    SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
      FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
    UNION ALL
    SELECT 'trigger ' || c.relname || '.' || t.tgname || ' ' || pg_get_triggerdef(t.oid, true)
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN ns ON c.relnamespace = ns.oid
     WHERE NOT t.tgisinternal`.execute(db);
  return result.rows.map((row) => row.line).sort((a, b) => a.localeCompare(b));
}

/** The catalog a schema at head should have, on `host`, leaving nothing behind. */
export async function referenceSnapshot(
  hosts: DatabaseHosts,
  host: string,
  runner: MigrationRunner,
): Promise<CatalogSnapshot> {
  const scratch = `tenantry_reference_${randomBytes(6).toString('hex')}`;
  let snapshot: CatalogSnapshot = [];
  await runner.upgrade(
    { host, db: hosts.db(host), schema: scratch },
    {
      dryRun: true,
      inTransaction: async (conn) => {
        snapshot = await catalogSnapshot(conn, scratch, { inOpenTransaction: true });
      },
    },
  );
  return snapshot;
}

export function compareSnapshots(reference: CatalogSnapshot, actual: CatalogSnapshot) {
  const want = new Set(reference);
  const have = new Set(actual);
  return {
    missing: reference.filter((line) => !have.has(line)),
    unexpected: actual.filter((line) => !want.has(line)),
  };
}

export async function detectDrift(
  hosts: DatabaseHosts,
  registry: TenantRegistry,
  runner: MigrationRunner,
  options: { tenants?: string[]; host?: string } = {},
): Promise<DriftReport> {
  const tenants = await registry.list({
    tenants: options.tenants,
    host: options.host,
    statuses: ['active', 'suspended'],
  });
  const references = new Map<string, CatalogSnapshot>();
  const entries: DriftEntry[] = [];
  for (const tenant of tenants) {
    if (!hosts.has(tenant.host)) {
      entries.push({
        tenant_id: tenant.tenant_id,
        host: tenant.host,
        missing: [`host ${tenant.host} is not configured`],
        unexpected: [],
      });
      continue;
    }
    let reference = references.get(tenant.host);
    if (!reference) {
      reference = await referenceSnapshot(hosts, tenant.host, runner);
      references.set(tenant.host, reference);
    }
    const actual = await catalogSnapshot(hosts.db(tenant.host), tenant.tenant_id);
    entries.push({ tenant_id: tenant.tenant_id, host: tenant.host, ...compareSnapshots(reference, actual) });
  }
  const drifted = entries.filter((e) => e.missing.length > 0 || e.unexpected.length > 0);
  return { checked: entries.length, drifted: drifted.length, tenants: entries };
}
