/**
 * Backup object names. One backup is three objects with one stem:
 *   <db>--database--20261126-124941-123Z.dump           the pg_dump -Fc archive
 *   <db>--tenant-<id>--20261126-124941-123Z.dump        … of one tenant schema
 *   <stem>.dump.sha256                                  `sha256sum` format, written last: its presence
 *                                                       marks the backup complete
 *   <stem>.dump.manifest.json                           see manifest.ts
 *   <stem>.dump.part-0001, …                            batches of tenant schemas of a large database
 *                                                       (listed in the manifest and the checksum file)
 * Times are UTC with milliseconds, so names sort by time and two backups in one second do not collide;
 * `--date` matches the UTC day in the name.
 */

export type BackupKind = 'database' | 'tenant';

export interface BackupName {
  /** The archive's object name (ends in `.dump`). */
  object: string;
  /** The database name as it appears in the object name (unsafe characters replaced by `_`). */
  database: string;
  kind: BackupKind;
  tenant: string | undefined;
  createdAt: Date;
}

export const CHECKSUM_SUFFIX = '.sha256';
/** Parts of a whole-database backup cut into batches: `<object>.part-0001`, … (dump-database.ts). */
export const partSuffix = (index: number): string => `.part-${String(index + 1).padStart(4, '0')}`;
export const MANIFEST_SUFFIX = '.manifest.json';

const NAME =
  /^(.+)--(database|tenant-([a-z][a-z0-9_]{0,62}))--(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-(\d{3})Z\.dump$/;

export const safeDatabaseName = (database: string): string => database.replace(/[^A-Za-z0-9_.-]/g, '_');

export function backupObjectName(database: string, tenant: string | undefined, at: Date): string {
  const iso = at.toISOString(); // 2026-11-26T12:49:41.123Z
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${iso.slice(20, 23)}Z`;
  const kind = tenant === undefined ? 'database' : `tenant-${tenant}`;
  return `${safeDatabaseName(database)}--${kind}--${stamp}.dump`;
}

export function parseBackupName(object: string): BackupName | undefined {
  const match = NAME.exec(object);
  if (!match) return undefined;
  const [, database, kind, tenant, year, month, day, hour, minute, second, milli] = match;
  return {
    object,
    database: database!,
    kind: kind === 'database' ? 'database' : 'tenant',
    tenant,
    createdAt: new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${milli}Z`),
  };
}

/** YYYY-MM-DD of a date, UTC. */
export const utcDay = (date: Date): string => date.toISOString().slice(0, 10);
