/**
 * The JSON manifest stored beside each archive, and the facts it records. Table row counts are taken in
 * the very snapshot pg_dump dumps (see backup.ts), so a restore can verify them exactly.
 */
import type pg from 'pg';
import type { BackupKind } from './naming.ts';

export interface TableCount {
  schema: string;
  table: string;
  rows: number;
}

export interface ManifestTenant {
  tenantId: string;
  name: string;
  host: string;
  status: string;
  revision: string | null;
}

/**
 * One archive of a whole-database backup cut into batches (format 2): the archive named in the object
 * holds everything but the batched tenant schemas; each part holds a batch of them, dumped from the same
 * exported snapshot.
 */
export interface ManifestPart {
  /** `<object>.part-0001`, … */
  object: string;
  schemas: string[];
  sizeBytes: number;
  sha256: string;
}

export interface Manifest {
  /** 2 when `parts` is not empty: code that knows only format 1 refuses it instead of restoring a part. */
  format: 1 | 2;
  kind: BackupKind;
  /** The database that was dumped. */
  database: string;
  /** The tenant schema, for kind = tenant. */
  tenant: string | null;
  object: string;
  createdAt: string;
  serverVersion: string;
  pgDumpVersion: string;
  /** Tenants of public.tenants in the dumped snapshot (for a tenant backup, that one). */
  tenants: ManifestTenant[];
  tables: TableCount[];
  /** Format 2: the batches of tenant schemas, restored after the main archive. */
  parts?: ManifestPart[];
  sizeBytes: number;
  sha256: string;
  durationMs: number;
}

/**
 * Ordinary tables of the user schemas (or of `schemas` only) with exact row counts, in `client`'s snapshot.
 * Each count locks its table and indexes until the transaction ends: callers keep `schemas` within the
 * lock budget (lock-budget.ts).
 */
export async function countTables(client: pg.Client, schemas?: string[]): Promise<TableCount[]> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_%'
        AND ($1::text[] IS NULL OR n.nspname = ANY ($1))
      ORDER BY 1, 2`,
    [schemas ?? null],
  );
  const counts: TableCount[] = [];
  for (const row of rows) {
    const qualified = `${client.escapeIdentifier(row.schema)}.${client.escapeIdentifier(row.table)}`;
    const counted = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified}`);
    counts.push({ ...row, rows: Number(counted.rows[0]!.n) });
  }
  return counts;
}

/** Rows of public.tenants (all, or `tenant` only); [] when the database has no registry. */
export async function readTenants(client: pg.Client, tenant?: string): Promise<ManifestTenant[]> {
  const exists = await client.query<{ present: boolean }>(
    "SELECT to_regclass('public.tenants') IS NOT NULL AS present",
  );
  if (!exists.rows[0]?.present) return [];
  const { rows } = await client.query<ManifestTenant>(
    `SELECT tenant_id AS "tenantId", name, host, status, revision
       FROM public.tenants WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY tenant_id`,
    [tenant ?? null],
  );
  return rows;
}

export function parseManifest(text: string, object: string): Manifest {
  const parsed = JSON.parse(text) as Partial<Manifest>;
  const formatOk = parsed.format === 1 || (parsed.format === 2 && Array.isArray(parsed.parts));
  if (!formatOk || !Array.isArray(parsed.tables) || !Array.isArray(parsed.tenants)) {
    throw new Error(`the manifest of ${object} is not a Tenantry backup manifest (format 1 or 2)`);
  }
  return parsed as Manifest;
}
