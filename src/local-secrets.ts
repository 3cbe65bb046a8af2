/**
 * Secrets a development install keeps for itself in a folder of its own (the data folder): the embedded
 * PostgreSQL superuser's password and the control center token. Each is generated once, written 0600,
 * and read again on every start, so a restart (or the CLI next to a running server) finds the same
 * value — instead of a well-known password, or a token that changed on every start.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class LocalSecretError extends Error {
  override name = 'LocalSecretError';
}

async function read(file: string): Promise<string | undefined> {
  try {
    const info = await lstat(file);
    const uid = process.getuid?.() ?? info.uid;
    if (!info.isFile() || info.uid !== uid) {
      throw new LocalSecretError(`${file} is not a file of this user; remove it`);
    }
    // Tighten a copy someone loosened; the secret itself is still the one the cluster knows.
    if (info.mode & 0o077) await chmod(file, 0o600);
    const value = (await readFile(file, 'utf8')).trim();
    if (value === '') throw new LocalSecretError(`${file} is empty; remove it`);
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The secret kept in `folder/name`: read when present, otherwise `initial` (default: 32 random bytes,
 * base64url) written there first. Two processes starting at once agree: the file is created with O_EXCL
 * and the loser reads the winner's value.
 */
export async function localSecret(folder: string, name: string, initial?: string): Promise<string> {
  const file = path.join(folder, name);
  const existing = await read(file);
  if (existing !== undefined) return existing;
  // 0755: the folder may also hold the embedded cluster, which the postgres OS user must enter.
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const value = initial ?? randomBytes(32).toString('base64url');
  try {
    await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await read(file);
    if (winner === undefined) throw error;
    return winner;
  }
}
