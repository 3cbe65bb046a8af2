/**
 * LOCAL archives hold password and token hashes (issue 15): a folder the tool creates is 0700, and every
 * archive and manifest it writes is 0600, whatever the process umask.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../src/backup/storage/local.ts';

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe('LOCAL storage permissions', () => {
  it('creates its folder 0700 and writes every object 0600', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'tenantry-local-'));
    folders.push(parent);
    const folder = path.join(parent, 'backups', 'nested');
    const storage = new LocalStorage(folder);
    const previous = process.umask(0o022);
    try {
      await storage.check();
      const dump = path.join(parent, 'dump.bin');
      await writeFile(dump, 'archive bytes', { mode: 0o644 });
      await storage.putFile('db-2026-12-03.dump', dump);
      await storage.putText('db-2026-12-03.json', '{"tables":[]}');
    } finally {
      process.umask(previous);
    }
    expect(await mode(folder)).toBe(0o700);
    expect(await mode(path.join(folder, 'db-2026-12-03.dump'))).toBe(0o600);
    expect(await mode(path.join(folder, 'db-2026-12-03.json'))).toBe(0o600);
    expect(await storage.getText('db-2026-12-03.json')).toBe('{"tables":[]}');
  });
});
