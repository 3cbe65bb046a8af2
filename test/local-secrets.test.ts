import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localSecret } from '../src/local-secrets.ts';

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});
const scratch = async () => {
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-secret-'));
  folders.push(folder);
  return folder;
};

describe('localSecret', () => {
  it('generates once, 0600, and ten processes starting at once agree on it', async () => {
    const folder = path.join(await scratch(), 'data');
    const values = await Promise.all(Array.from({ length: 10 }, () => localSecret(folder, 'token')));
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toMatch(/^[\w-]{43}$/);
    expect((await stat(path.join(folder, 'token'))).mode & 0o777).toBe(0o600);
    expect(await localSecret(folder, 'token')).toBe(values[0]);
  });

  it('keeps an initial value it was given, and tightens a loosened file', async () => {
    const folder = await scratch();
    expect(await localSecret(folder, 'password', 'legacy')).toBe('legacy');
    await chmod(path.join(folder, 'password'), 0o644);
    expect(await localSecret(folder, 'password')).toBe('legacy');
    expect((await stat(path.join(folder, 'password'))).mode & 0o777).toBe(0o600);
  });

  it('refuses an empty file instead of using an empty secret', async () => {
    const folder = await scratch();
    await writeFile(path.join(folder, 'token'), '\n');
    await expect(localSecret(folder, 'token')).rejects.toThrow(/is empty/);
    expect(await readFile(path.join(folder, 'token'), 'utf8')).toBe('\n');
  });
});
