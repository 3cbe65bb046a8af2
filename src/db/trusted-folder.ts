/**
 * Folders under the OS temp folder that root may trust. The temp folder is writable by everyone, so a
 * folder found there may have been planted by another OS user; root runs the embedded PostgreSQL
 * binaries (as the `postgres` user) and keeps its data there, so a planted or tampered folder would let
 * that user run code or read data. A folder is trusted only when it and everything in it is owned by
 * this process's user and writable by nobody else.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class UntrustedFolderError extends Error {
  override name = 'UntrustedFolderError';
}

const WRITABLE_BY_OTHERS = constants.S_IWGRP | constants.S_IWOTH;

/** Why `entry` is not trustworthy, or undefined when it is owned by us and writable only by us. */
async function distrust(entry: string, uid: number): Promise<string | undefined> {
  const info = await lstat(entry);
  if (info.uid !== uid) return `${entry} belongs to uid ${info.uid}, not ${uid}`;
  // Symbolic links carry mode 0777 on Linux and cannot be written through; their target is checked too.
  if (!info.isSymbolicLink() && info.mode & WRITABLE_BY_OTHERS) {
    return `${entry} is writable by other users (mode ${(info.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

/**
 * Why the folder (and, with `deep`, everything below it) cannot be trusted; undefined when it can.
 * A symbolic link in place of the folder itself is refused: it could point anywhere.
 */
export async function whyUntrusted(folder: string, deep: boolean): Promise<string | undefined> {
  const uid = process.getuid?.() ?? 0;
  const info = await lstat(folder);
  if (!info.isDirectory()) return `${folder} is not a directory`;
  const top = await distrust(folder, uid);
  if (top || !deep) return top;
  for (const name of await readdir(folder, { recursive: true })) {
    const reason = await distrust(path.join(folder, name), uid);
    if (reason) return reason;
  }
  return undefined;
}

const exists = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EEXIST' || code === 'ENOTEMPTY';
};

/**
 * A folder made (if missing) with mode 0755 and checked: refuses one that another user planted or can
 * write. Ancestors between the temp folder and it are created the same way and must pass the same test.
 */
export async function trustedFolder(folder: string): Promise<string> {
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const reason = await whyUntrusted(folder, false);
  if (reason) {
    throw new UntrustedFolderError(`refusing ${folder}: ${reason}; remove it, or set TMPDIR elsewhere`);
  }
  return folder;
}

/**
 * A read-only shared copy of `source` at `target`, made at most once however many processes ask at the
 * same moment: each copies into a private temporary folder next to it, marks the copy complete, and
 * renames it into place (atomic); a process that loses the race uses the winner's copy. A copy at
 * `target` is used only when it is complete and trusted, otherwise refused — never merged into.
 */
export async function sharedCopy(source: string, target: string): Promise<string> {
  const marker = path.join(target, '.complete');
  const usable = async (): Promise<boolean> => {
    try {
      await lstat(marker);
    } catch {
      return false;
    }
    const reason = await whyUntrusted(target, true);
    if (reason) throw new UntrustedFolderError(`refusing ${target}: ${reason}; remove it`);
    return true;
  };
  const present = await lstat(target).then(
    () => true,
    () => false,
  );
  if (present && (await usable())) return target;
  if (present) {
    const reason = await whyUntrusted(target, true);
    throw new UntrustedFolderError(
      `refusing ${target}: it is incomplete${reason ? ` and ${reason}` : ''}; remove it`,
    );
  }

  const staging = await mkdtemp(`${target}.staging-`);
  try {
    const copy = path.join(staging, randomBytes(4).toString('hex'));
    await cp(source, copy, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(copy, '.complete'), 'complete\n', { mode: 0o644 });
    await chmod(copy, 0o755);
    try {
      await rename(copy, target);
    } catch (error) {
      if (!exists(error)) throw error;
      // Another process renamed its copy into place first.
      if (!(await usable()))
        throw new UntrustedFolderError(`refusing ${target}: it is incomplete; remove it`);
    }
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
