/**
 * Fresh-clone safety of the embedded PostgreSQL (issue 13): the shared copy of the binaries is made once
 * however many servers start at the same moment, a folder someone else planted in the temp folder is
 * refused, and an interrupted test run leaves no server and no folder behind.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sharedCopy, trustedFolder, UntrustedFolderError } from '../../src/db/trusted-folder.ts';
import { running } from '../setup/server-group.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOBODY = 65534;
const isRoot = userInfo().uid === 0;

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function scratch(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-safety-'));
  made.push(folder);
  return folder;
}

/** A small tree shaped like the binaries: files, a sub-folder, a relative symbolic link. */
async function sourceTree(): Promise<string> {
  const source = path.join(await scratch(), 'native');
  await mkdir(path.join(source, 'lib'), { recursive: true });
  await writeFile(path.join(source, 'lib', 'libpq.so.5.15'), 'x'.repeat(100_000), { mode: 0o755 });
  await symlink('libpq.so.5.15', path.join(source, 'lib', 'libpq.so.5'));
  await writeFile(path.join(source, 'postgres'), '#!/bin/sh\n', { mode: 0o755 });
  return source;
}

describe('sharedCopy', () => {
  it('makes one complete copy when eight processes ask at the same moment', async () => {
    const source = await sourceTree();
    const parent = await scratch();
    const target = path.join(parent, 'tenantry-pg-test');
    const results = await Promise.all(Array.from({ length: 8 }, () => sharedCopy(source, target)));
    expect(new Set(results)).toEqual(new Set([target]));
    expect(existsSync(path.join(target, '.complete'))).toBe(true);
    expect((await lstat(path.join(target, 'lib', 'libpq.so.5'))).isSymbolicLink()).toBe(true);
    expect(((await lstat(target)).mode & 0o777).toString(8)).toBe('755');
    // No staging folder is left behind, whoever won the race.
    expect(await readdir(parent)).toEqual(['tenantry-pg-test']);
    // A later start reuses it.
    await expect(sharedCopy(source, target)).resolves.toBe(target);
  });

  it('refuses an incomplete copy instead of merging into it', async () => {
    const source = await sourceTree();
    const target = path.join(await scratch(), 'copy');
    await mkdir(target);
    await expect(sharedCopy(source, target)).rejects.toThrow(/incomplete/);
  });

  it.runIf(isRoot)('refuses a copy another OS user planted', async () => {
    const source = await sourceTree();
    const target = path.join(await scratch(), 'copy');
    await sharedCopy(source, target);
    await chown(target, NOBODY, NOBODY);
    await expect(sharedCopy(source, target)).rejects.toThrow(UntrustedFolderError);
    await expect(sharedCopy(source, target)).rejects.toThrow(/belongs to uid 65534/);
  });

  it('refuses a copy in which a file is writable by other users', async () => {
    const source = await sourceTree();
    const target = path.join(await scratch(), 'copy');
    await sharedCopy(source, target);
    await chmod(path.join(target, 'postgres'), 0o777);
    await expect(sharedCopy(source, target)).rejects.toThrow(/writable by other users/);
  });
});

describe('trustedFolder', () => {
  it('creates a missing folder and accepts one of ours', async () => {
    const folder = path.join(await scratch(), 'tenantry-abc');
    await expect(trustedFolder(folder)).resolves.toBe(folder);
    await expect(trustedFolder(folder)).resolves.toBe(folder);
  });

  it('refuses a world-writable folder and a symbolic link in its place', async () => {
    const parent = await scratch();
    const open = path.join(parent, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await expect(trustedFolder(open)).rejects.toThrow(/writable by other users/);
    const link = path.join(parent, 'link');
    await symlink(parent, link);
    await expect(trustedFolder(link)).rejects.toThrow(/not a directory/);
  });

  it.runIf(isRoot)("refuses another OS user's folder", async () => {
    const planted = path.join(await scratch(), 'planted');
    await mkdir(planted);
    await chown(planted, NOBODY, NOBODY);
    await expect(trustedFolder(planted)).rejects.toThrow(/belongs to uid 65534/);
  });
});

describe('an interrupted test run', () => {
  it('stops its server and removes its folder on SIGINT', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join('test', 'fixtures', 'server-group-child.ts')],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const { pid, dataDir } = JSON.parse(line.toString()) as { pid: number; dataDir: string };
    expect(existsSync(dataDir)).toBe(true);
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(130);
    expect(existsSync(path.dirname(dataDir))).toBe(false);
    // Gone, or a zombie its new parent has not reaped yet: either way no longer a server.
    expect(running(pid)).toBe(false);
  }, 90_000);
});
