/**
 * What is on the storage: backups assembled from their objects (archive, checksum, manifest), newest
 * first; choosing the one to restore; and `--keep N` retention.
 */
import { BackupError } from './errors.ts';
import { type BackupName, CHECKSUM_SUFFIX, MANIFEST_SUFFIX, parseBackupName, utcDay } from './naming.ts';
import type { BackupStorage } from './storage/storage.ts';

export interface BackupEntry extends BackupName {
  sizeBytes: number;
  /** The checksum file exists: the backup completed (it is written last). */
  hasChecksum: boolean;
  hasManifest: boolean;
}

export async function listBackups(storage: BackupStorage): Promise<BackupEntry[]> {
  const objects = await storage.list();
  const names = new Set(objects.map((object) => object.name));
  const entries: BackupEntry[] = [];
  for (const object of objects) {
    const parsed = parseBackupName(object.name);
    if (!parsed) continue;
    entries.push({
      ...parsed,
      sizeBytes: object.sizeBytes,
      hasChecksum: names.has(object.name + CHECKSUM_SUFFIX),
      hasManifest: names.has(object.name + MANIFEST_SUFFIX),
    });
  }
  return entries.sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.object.localeCompare(a.object),
  );
}

export interface Selection {
  /** `--file`: an exact object name. */
  file?: string;
  /** `--date YYYY-MM-DD` (UTC day). */
  date?: string;
  /** The database the backups were taken of (as in object names). */
  database: string;
  /** `--tenant`: pick tenant backups of this tenant instead of whole-database ones. */
  tenant?: string;
}

export function selectBackup(entries: BackupEntry[], selection: Selection): BackupEntry {
  if (selection.file !== undefined) {
    const found = entries.find((entry) => entry.object === selection.file);
    if (!found) throw new BackupError(`backup ${selection.file} was not found (see --action list)`, 'usage');
    if (selection.tenant !== undefined && found.tenant !== selection.tenant) {
      throw new BackupError(
        `${found.object} is ${found.tenant ? `a backup of tenant ${found.tenant}` : 'a whole-database backup'}, not of tenant ${selection.tenant}`,
        'usage',
      );
    }
    return found;
  }
  const date = selection.date!;
  const ofDay = entries.filter((entry) => utcDay(entry.createdAt) === date);
  const kind = selection.tenant === undefined ? 'whole-database' : `tenant ${selection.tenant}`;
  const candidates = ofDay.filter(
    (entry) =>
      entry.database === selection.database && entry.tenant === selection.tenant && entry.hasChecksum,
  );
  if (candidates.length > 0) return candidates[0]!;
  const others = ofDay.map((entry) => entry.object);
  throw new BackupError(
    `no complete ${kind} backup of database ${selection.database} on ${date} (UTC)` +
      (others.length > 0 ? `; that day has: ${others.join(', ')} (restore one with --file NAME)` : '') +
      ' — see --action list for the available dates',
    'usage',
  );
}

/** Keeps the newest `keep` backups of the same database and kind (and tenant); deletes the rest. */
export async function pruneBackups(
  storage: BackupStorage,
  series: { database: string; tenant: string | undefined },
  keep: number,
): Promise<string[]> {
  const entries = (await listBackups(storage)).filter(
    (entry) => entry.database === series.database && entry.tenant === series.tenant,
  );
  const doomed = entries.slice(keep);
  const objects = doomed.flatMap((entry) => [
    entry.object + CHECKSUM_SUFFIX, // first: an interrupted prune leaves an incomplete backup, not a "complete" broken one
    entry.object,
    entry.object + MANIFEST_SUFFIX,
  ]);
  await storage.delete(objects);
  return doomed.map((entry) => entry.object);
}
