/**
 * The PostgreSQL objects and checks of a tenant move (issue 17), as plain SQL on pg clients:
 * the source's publication and replication slot, the target's subscription, the logical-replication
 * capability check, and the per-table row counts and checksums compared at the switch.
 *
 * Names: every object of one move is `tm_<move id without dashes>` (35 characters, valid for slots), so
 * moves of different tenants (and test databases sharing a server) never collide, and a leftover is
 * recognised by its prefix. Tombstones (the source schema renamed at the switch) are
 * `_tenantry_moved_<hex>`: a leading underscore is never a valid tenant id.
 */
import pg from 'pg';
import { quoteIdent } from '../../db/hosts.ts';

export const OBJECT_PREFIX = 'tm_';

export const objectName = (moveId: string) => `${OBJECT_PREFIX}${moveId.replaceAll('-', '')}`;
export const tombstoneName = (moveId: string) => `_tenantry_moved_${moveId.replaceAll('-', '').slice(0, 32)}`;

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** A client of our own: fixed text formats, so the checksums of both hosts are comparable. */
export async function openClient(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => {});
  await client.connect();
  await client.query(
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET statement_timeout = 0",
  );
  return client;
}

export async function schemaExists(client: pg.Client | pg.Pool, schema: string): Promise<boolean> {
  const result = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return result.rowCount === 1;
}

/** Ordinary tables of a schema, by name. */
export async function schemaTables(client: pg.Client | pg.Pool, schema: string): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
    [schema],
  );
  return result.rows.map((row) => row.name);
}

/**
 * Why the source cannot stream the schema by logical replication, or null when it can: wal_level, the
 * role's replication privilege, the server version (schema publications are PostgreSQL 15), and tables
 * without a replica identity (once published, their UPDATEs and DELETEs would fail on the source).
 */
export async function logicalBlocker(source: pg.Client, schema: string): Promise<string | null> {
  const settings = await source.query<{ wal_level: string; version: number; privileged: boolean }>(
    `SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num')::int AS version,
            (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user) AS privileged`,
  );
  const row = settings.rows[0]!;
  if (row.version < 150000) return `the source runs PostgreSQL ${row.version} (schema publications need 15)`;
  if (row.wal_level !== 'logical') return `the source has wal_level=${row.wal_level}, not logical`;
  if (!row.privileged) return 'the source role has no REPLICATION privilege';
  const unidentified = await source.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r' AND (c.relreplident = 'n' OR (c.relreplident = 'd'
       AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))`,
    [schema],
  );
  if (unidentified.rows.length > 0)
    return `table(s) without a primary key: ${unidentified.rows.map((r) => r.name).join(', ')}`;
  return null;
}

export async function createPublication(source: pg.Client, name: string, schema: string): Promise<void> {
  await source.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLES IN SCHEMA ${quoteIdent(schema)}`);
}

/** The slot is made here, not by CREATE SUBSCRIPTION, so it works even when both hosts share a server. */
export async function createSlot(source: pg.Client, name: string): Promise<void> {
  await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [name]);
}

export async function createSubscription(
  target: pg.Client,
  name: string,
  sourceConninfo: string,
): Promise<void> {
  await target.query(
    `CREATE SUBSCRIPTION ${quoteIdent(name)} CONNECTION ${literal(sourceConninfo)} PUBLICATION ${quoteIdent(name)}
     WITH (create_slot = false, slot_name = ${literal(name)}, copy_data = true)`,
  );
}

export interface SyncState {
  tables: number;
  ready: number;
  errors: number;
}

/** Tables of the subscription and how many finished their initial copy (state r), errors so far. */
export async function syncState(target: pg.Client, name: string): Promise<SyncState> {
  const result = await target.query<SyncState>(
    `SELECT count(r.*)::int AS tables, count(r.*) FILTER (WHERE r.srsubstate = 'r')::int AS ready,
            coalesce((SELECT (sync_error_count + apply_error_count)::int FROM pg_stat_subscription_stats
                      WHERE subname = $1), 0) AS errors
     FROM pg_subscription s LEFT JOIN pg_subscription_rel r ON r.srsubid = s.oid WHERE s.subname = $1`,
    [name],
  );
  return result.rows[0] ?? { tables: 0, ready: 0, errors: 0 };
}

/** The source's current WAL position. */
export async function currentLsn(source: pg.Client): Promise<string> {
  return (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
}

/** Whether the subscriber confirmed (applied and flushed) everything up to `lsn`. */
export async function confirmedPast(source: pg.Client, slot: string, lsn: string): Promise<boolean> {
  const result = await source.query<{ caught: boolean }>(
    `SELECT coalesce(confirmed_flush_lsn >= $2::pg_lsn, false) AS caught FROM pg_replication_slots
     WHERE slot_name = $1 AND database = current_database()`,
    [slot, lsn],
  );
  return result.rows[0]?.caught ?? false;
}

export interface TableCheck {
  table: string;
  rows: number;
  checksum: string;
}

/**
 * Rows and an order-independent checksum per table: the sum of the first 64 bits of md5(row text).
 * Streams (no table-sized aggregate), and equal on both hosts for equal rows since both sessions use the
 * same text formats (openClient).
 */
export async function tableChecks(
  client: pg.Client,
  schema: string,
  tables: string[],
): Promise<TableCheck[]> {
  const checks: TableCheck[] = [];
  for (const table of tables) {
    const result = await client.query<{ rows: string; checksum: string }>(
      `SELECT count(*)::text AS rows,
              coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text AS checksum
       FROM ${quoteIdent(schema)}.${quoteIdent(table)} t`,
    );
    const row = result.rows[0]!;
    checks.push({ table, rows: Number(row.rows), checksum: row.checksum });
  }
  return checks;
}

/** Differences between the two hosts' checks, as sentences (empty when they agree). */
export function compareChecks(source: TableCheck[], target: TableCheck[]): string[] {
  const byTable = new Map(target.map((check) => [check.table, check]));
  const problems: string[] = [];
  for (const check of source) {
    const other = byTable.get(check.table);
    if (!other) problems.push(`${check.table}: missing on the target`);
    else if (other.rows !== check.rows)
      problems.push(`${check.table}: ${check.rows} rows on the source, ${other.rows} on the target`);
    else if (other.checksum !== check.checksum) problems.push(`${check.table}: checksums differ`);
  }
  return problems;
}

/** Sets every sequence of the target schema to its source value (identity columns included). */
export async function copySequences(source: pg.Client, target: pg.Client, schema: string): Promise<number> {
  const sequences = await source.query<{ name: string; last_value: string | null }>(
    `SELECT sequencename AS name, last_value::text FROM pg_sequences WHERE schemaname = $1`,
    [schema],
  );
  let set = 0;
  for (const sequence of sequences.rows) {
    if (sequence.last_value === null) continue;
    await target.query(
      `SELECT setval(format('%I.%I', $1::text, $2::text)::regclass,
                     greatest($3::bigint, (SELECT coalesce(last_value, 0) FROM pg_sequences
                                           WHERE schemaname = $1 AND sequencename = $2)), true)`,
      [schema, sequence.name, sequence.last_value],
    );
    set++;
  }
  return set;
}

/**
 * Drops the move's subscription on the target. With the source reachable DROP SUBSCRIPTION also drops
 * its slot there (and any table-sync slots); when it is not, the slot is detached first so the drop
 * succeeds, and the slot is dropped later by `dropSlot` on the source.
 */
export async function dropSubscription(target: pg.Client, name: string): Promise<boolean> {
  const found = await target.query('SELECT 1 FROM pg_subscription WHERE subname = $1', [name]);
  if (found.rowCount === 0) return false;
  try {
    await target.query(`DROP SUBSCRIPTION ${quoteIdent(name)}`);
  } catch {
    await target.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
    await target.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} SET (slot_name = NONE)`);
    await target.query(`DROP SUBSCRIPTION ${quoteIdent(name)}`);
  }
  return true;
}

/** Drops the slot (waiting up to `waitMs` for its walsender to let go) and the publication on the source. */
export async function dropSourceObjects(source: pg.Client, name: string, waitMs = 15_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const slot = await source.query<{ active_pid: number | null }>(
      'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()',
      [name],
    );
    const row = slot.rows[0];
    if (!row) break;
    if (row.active_pid === null) {
      await source.query('SELECT pg_drop_replication_slot($1)', [name]);
      break;
    }
    // A subscription that is gone leaves no walsender behind for long; one still running is ended.
    if (Date.now() > deadline) await source.query('SELECT pg_terminate_backend($1)', [row.active_pid]);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
}

/** Names of move objects (publications, subscriptions, slots) present in this database. */
export async function moveObjects(client: pg.Client): Promise<{
  publications: string[];
  subscriptions: string[];
  slots: string[];
}> {
  // `_` is a LIKE wildcard: escaped.
  const pattern = `${OBJECT_PREFIX.replaceAll('_', '\\_')}%`;
  // One after the other: a pg.Client runs one query at a time.
  const publications = await client.query<{ name: string }>(
    'SELECT pubname AS name FROM pg_publication WHERE pubname LIKE $1',
    [pattern],
  );
  const subscriptions = await client.query<{ name: string }>(
    `SELECT subname AS name FROM pg_subscription
     WHERE subname LIKE $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [pattern],
  );
  const slots = await client.query<{ name: string }>(
    'SELECT slot_name AS name FROM pg_replication_slots WHERE slot_name LIKE $1 AND database = current_database()',
    [pattern],
  );
  const names = (result: { rows: Array<{ name: string }> }) => result.rows.map((row) => row.name);
  return { publications: names(publications), subscriptions: names(subscriptions), slots: names(slots) };
}
