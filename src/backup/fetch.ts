/**
 * Downloads a backup for restore and proves it intact before anything is touched: the archive's SHA-256
 * must equal the checksum file's (and the manifest's), and pg_restore must be able to read its table of
 * contents.
 */
import path from 'node:path';
import type { BackupEntry } from './catalog.ts';
import { parseChecksumFile, parseChecksumLines, sha256File } from './checksum.ts';
import { BackupError } from './errors.ts';
import { type Manifest, parseManifest } from './manifest.ts';
import { CHECKSUM_SUFFIX, MANIFEST_SUFFIX } from './naming.ts';
import { type FoundTool, runTool } from './pg-tools.ts';
import type { BackupStorage } from './storage/storage.ts';

export interface VerifiedBackup {
  file: string;
  manifest: Manifest;
  /** Local files of the manifest's parts, in order (format 2). */
  parts: string[];
}

export async function fetchVerifiedBackup(
  storage: BackupStorage,
  entry: BackupEntry,
  folder: string,
  pgRestore: FoundTool,
  log: (message: string) => void,
): Promise<VerifiedBackup> {
  const refuse = (reason: string) =>
    new BackupError(`refusing to restore ${entry.object}: ${reason}; nothing was changed`);
  const checksumText = await storage.getText(entry.object + CHECKSUM_SUFFIX);
  if (checksumText === undefined) throw refuse('it has no checksum file (the backup did not complete)');
  const expected = parseChecksumFile(checksumText);
  if (expected === undefined)
    throw refuse(`its checksum file ${entry.object}${CHECKSUM_SUFFIX} is unreadable`);
  const manifestText = await storage.getText(entry.object + MANIFEST_SUFFIX);
  if (manifestText === undefined) throw refuse('it has no manifest');
  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestText, entry.object);
  } catch (error) {
    throw refuse(error instanceof Error ? error.message : String(error));
  }
  if (manifest.sha256 !== expected) throw refuse('its manifest and checksum file disagree');

  const listed = parseChecksumLines(checksumText);
  const files = [
    { object: entry.object, sha256: expected },
    ...(manifest.parts ?? []).map((part) => ({ object: part.object, sha256: part.sha256 })),
  ];
  for (const { object, sha256 } of files.slice(1)) {
    if (listed.get(object) !== sha256)
      throw refuse(`its manifest and checksum file disagree about ${object}`);
  }
  const local: string[] = [];
  for (const { object, sha256 } of files) {
    const file = path.join(folder, object);
    log(`downloading ${object} from ${storage.description}`);
    await storage.getFile(object, file).catch((error: unknown) => {
      throw refuse(`${object} cannot be read (${error instanceof Error ? error.message : String(error)})`);
    });
    const actual = await sha256File(file);
    if (actual !== sha256) {
      throw refuse(
        `checksum mismatch of ${object} (expected sha256 ${sha256}, the file has ${actual}): the archive is corrupted`,
      );
    }
    try {
      await runTool(pgRestore, ['--list', file], { env: process.env });
    } catch (error) {
      throw refuse(
        `pg_restore cannot read ${object} (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    local.push(file);
  }
  log(`checksum verified (sha256 ${expected}${files.length > 1 ? ` and ${files.length - 1} part(s)` : ''})`);
  return { file: local[0]!, manifest, parts: local.slice(1) };
}
