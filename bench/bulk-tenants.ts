/**
 * Complete tenants at head, made in bulk for the fleet benchmarks (10,000 of them in minutes rather than
 * the ~15 minutes of one `tenants.create` after another on a shared 2-core machine).
 *
 * Each tenant is exactly what tenant creation makes — the schema, its version table, every tenant
 * revision's own SQL text with search_path set to the schema, the version rows with the revisions'
 * checksums, and an `active` registry row at head — but several tenants share one transaction and one
 * round trip, two connections work at once, and the cluster runs with `fsync = off` meanwhile (a reload,
 * no restart). Durability is switched back on and a CHECKPOINT written before anything is measured, so the
 * measurements themselves run with the server's normal settings.
 *
 * Only usable with SQL-text revisions (every tenant revision today); a function revision is refused.
 */
import pg from 'pg';
import type { MigrationSet } from '../src/migrations/migration-set.ts';
import { quotedIdentifier } from '../src/migrations/runner.ts';

/** Tenants per transaction: each one creates ~100 relations, and every one of them holds a lock until commit. */
const PER_TRANSACTION = Number(process.env.BULK_PER_TX ?? 20);

/** The SQL that creates one complete tenant at head (schema, revisions, version rows, registry row). */
export function tenantCreationSql(set: MigrationSet, tenantId: string): string {
  const name = quotedIdentifier(tenantId);
  const literal = (value: string) => pg.escapeLiteral(value);
  const parts = [
    `CREATE SCHEMA ${name}`,
    `CREATE TABLE ${name}.schema_migrations (revision text PRIMARY KEY, name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now(), duration_ms integer, checksum text)`,
    `SELECT set_config('search_path', ${literal(name)}, true)`,
  ];
  for (const migration of set.migrations) {
    if (typeof migration.up !== 'string')
      throw new Error(`${migration.name}: bulk tenants need SQL-text revisions`);
    parts.push(migration.up);
  }
  parts.push(
    `INSERT INTO ${name}.schema_migrations (revision, name, duration_ms, checksum) VALUES ${set.migrations
      .map((m) => `(${literal(m.revision)}, ${literal(m.name)}, NULL, ${literal(m.checksum)})`)
      .join(', ')}`,
    `INSERT INTO public.tenants (tenant_id, name, host, status, revision, migration_status, migrated_at)
       VALUES (${literal(tenantId)}, ${literal(tenantId)}, 'default', 'active', ${literal(set.head ?? '')}, 'ok', now())`,
  );
  return parts.join(';\n');
}

async function setDurability(client: pg.Client, on: boolean): Promise<void> {
  if (on) await client.query('ALTER SYSTEM RESET fsync');
  else await client.query('ALTER SYSTEM SET fsync = off');
  await client.query('SELECT pg_reload_conf()');
  if (on) await client.query('CHECKPOINT');
}

/**
 * Creates `ids` as complete tenants at head on the server at `url` (public schema migrated already).
 * `onProgress` is told the number made so far.
 */
export async function createBulkTenants(
  url: string,
  set: MigrationSet,
  ids: string[],
  onProgress?: (done: number) => void,
): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await setDurability(admin, false);
  let next = 0;
  let done = 0;
  const worker = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      while (next < ids.length) {
        const batch = ids.slice(next, next + PER_TRANSACTION);
        next += batch.length;
        await client.query(`BEGIN;\n${batch.map((id) => tenantCreationSql(set, id)).join(';\n')};\nCOMMIT`);
        done += batch.length;
        onProgress?.(done);
      }
    } finally {
      await client.end();
    }
  };
  try {
    await Promise.all(Array.from({ length: Number(process.env.BULK_WORKERS ?? 2) }, worker));
  } finally {
    await setDurability(admin, true).finally(() => admin.end());
  }
}
