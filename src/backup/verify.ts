/**
 * Checks a restored copy against its manifest before it replaces anything: every table the backup held
 * exists with exactly the row count recorded at backup time.
 */
import type pg from 'pg';
import { BackupError } from './errors.ts';
import type { Manifest } from './manifest.ts';

/** `renameSchema` maps a schema of the backup to where it was restored (a staging schema). */
export async function verifyRestored(
  client: pg.Client,
  manifest: Manifest,
  renameSchema: (schema: string) => string = (schema) => schema,
): Promise<void> {
  const problems: string[] = [];
  for (const table of manifest.tables) {
    const schema = renameSchema(table.schema);
    const qualified = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table.table)}`;
    const { rows } = await client.query<{ present: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [qualified],
    );
    if (!rows[0]?.present) {
      problems.push(`table ${table.schema}.${table.table} is missing`);
      continue;
    }
    const counted = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified}`);
    const found = Number(counted.rows[0]!.n);
    if (found !== table.rows)
      problems.push(`${table.schema}.${table.table} has ${found} rows, the backup had ${table.rows}`);
  }
  if (problems.length > 0) {
    const shown =
      problems.slice(0, 5).join('; ') + (problems.length > 5 ? ` (+${problems.length - 5} more)` : '');
    throw new BackupError(`the restored copy does not match the backup's manifest: ${shown}`);
  }
}
