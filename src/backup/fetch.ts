/**
 * Downloads a backup for restore and proves it intact before anything is touched: the archive's SHA-256
 * must equal the checksum file's (and the manifest's), and pg_restore must be able to read its table of
 * contents.
 */
import path from 'node:path';
import type { BackupEntry } from './catalog.ts';
import { parseChecksumFile, sha256File } from './checksum.ts';
import { BackupError } from './errors.ts';
import { type Manifest, parseManifest } from './manifest.ts';
import { CHECKSUM_SUFFIX, MANIFEST_SUFFIX } from './naming.ts';
import { type FoundTool, runTool } from './pg-tools.ts';
import type { BackupStorage } from './storage/storage.ts';

export interface VerifiedBackup {
  file: string;
  manifest: Manifest;
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

  const file = path.join(folder, entry.object);
  log(`downloading ${entry.object} from ${storage.description}`);
  await storage.getFile(entry.object, file);
  const actual = await sha256File(file);
  if (actual !== expected) {
    throw refuse(
      `checksum mismatch (expected sha256 ${expected}, the file has ${actual}): the archive is corrupted`,
    );
  }
  try {
    await runTool(pgRestore, ['--list', file], { env: process.env });
  } catch (error) {
    throw refuse(`pg_restore cannot read it (${error instanceof Error ? error.message : String(error)})`);
  }
  log(`checksum verified (sha256 ${actual})`);
  return { file, manifest };
}
