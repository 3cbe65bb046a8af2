/**
 * LOCAL storage: a folder. Objects are written to a temporary name and renamed, so none is ever partial.
 * Archives hold password and token hashes: a folder we create is 0700 and every object 0600, readable by
 * the owner alone (an existing folder keeps the mode its operator chose).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { BackupError } from '../errors.ts';
import type { BackupStorage, StoredObject } from './storage.ts';

const PARTIAL = '.partial-';

export class LocalStorage implements BackupStorage {
  readonly description: string;

  constructor(private readonly folder: string) {
    this.description = `local folder ${folder}`;
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.folder, { recursive: true, mode: 0o700 });
      await access(this.folder, constants.W_OK | constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new BackupError(`cannot use backup folder ${this.folder} (${code}): check [local_storage] path`);
    }
  }

  async list(): Promise<StoredObject[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const objects: StoredObject[] = [];
    for (const name of names) {
      if (name.startsWith(PARTIAL)) continue;
      const info = await stat(path.join(this.folder, name)).catch(() => undefined);
      if (info?.isFile()) objects.push({ name, sizeBytes: info.size, modifiedAt: info.mtime });
    }
    return objects;
  }

  private async atomically(name: string, write: (temporary: string) => Promise<void>): Promise<void> {
    const target = this.path(name);
    const temporary = path.join(this.folder, `${PARTIAL}${randomBytes(6).toString('hex')}-${name}`);
    try {
      await write(temporary);
      await chmod(temporary, 0o600);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  putFile(name: string, file: string): Promise<void> {
    return this.atomically(name, (temporary) => copyFile(file, temporary));
  }

  putText(name: string, text: string): Promise<void> {
    return this.atomically(name, (temporary) => writeFile(temporary, text, { mode: 0o600 }));
  }

  async getFile(name: string, file: string): Promise<void> {
    await copyFile(this.path(name), file);
  }

  async getText(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(names: string[]): Promise<void> {
    for (const name of names) await rm(this.path(name), { force: true });
  }

  private path(name: string): string {
    // Names come from our own listing or --file; refuse anything that would leave the folder.
    if (name !== path.basename(name) || name.startsWith('.'))
      throw new BackupError(`invalid backup name ${name}`);
    return path.join(this.folder, name);
  }
}
