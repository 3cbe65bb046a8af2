/**
 * Which PostgreSQL the default host is: DATABASE_URL when set, otherwise the embedded server with its
 * data in `<DATA_DIR>/pg` (or the OS temp fallback, SPEC 9). If an embedded server already runs on that
 * folder (another `npm start`, or the CLI next to a running server), it is reused rather than started
 * twice — PostgreSQL's postmaster.pid tells us its port.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
import { localSecret } from '../local-secrets.ts';
import { chooseDataDir, existingSocketUrl, startEmbeddedPostgres } from './embedded.ts';

export interface DefaultDatabase {
  url: string;
  /**
   * The embedded server through its Unix socket, when it has one: what the server's own pools use.
   * Everything else (CLI, pg_dump) keeps `url`.
   */
  socketUrl?: string;
  /** Stops the embedded server when this process started it; no-op otherwise. */
  stop(): Promise<void>;
  description: string;
}

/** Clusters made before passwords were generated used this one; they keep it (see embeddedPassword). */
const LEGACY_PASSWORD = 'postgres';
const PASSWORD_FILE = 'embedded-postgres-password';

export class NoDatabaseError extends Error {
  override name = 'NoDatabaseError';
}

/**
 * The embedded superuser's password, kept beside its cluster (`<data>/embedded-postgres-password`,
 * 0600): random for a new cluster. A cluster that exists without the file was made with the old fixed
 * password and keeps it (it listens on 127.0.0.1 and its own socket only); deleting the data folder
 * starts a new cluster with a random one.
 */
async function embeddedPassword(dataDir: string): Promise<string> {
  const legacy = existsSync(path.join(dataDir, 'PG_VERSION'));
  const folder = path.dirname(dataDir);
  if (legacy && !existsSync(path.join(folder, PASSWORD_FILE))) {
    return localSecret(folder, PASSWORD_FILE, LEGACY_PASSWORD);
  }
  return localSecret(folder, PASSWORD_FILE);
}

async function runningServerPort(dataDir: string): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch (error) {
    // EPERM: alive but owned by another user (the postgres OS user when we are not root).
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? port : undefined;
  }
}

export async function openDefaultDatabase(
  config: Config,
  log: (message: string) => void,
): Promise<DefaultDatabase> {
  if (config.databaseUrl) {
    return { url: config.databaseUrl, stop: async () => {}, description: 'DATABASE_URL' };
  }
  if (config.nodeEnv === 'production') {
    // An embedded server is a development convenience; in production it would hold the data in a
    // folder nobody backs up. Refuse rather than start one silently.
    throw new NoDatabaseError(
      'DATABASE_URL is required when NODE_ENV=production (the embedded PostgreSQL is for development)',
    );
  }
  const { dataDir, fallbackReason } = await chooseDataDir(path.join(config.dataDir, 'pg'));
  if (fallbackReason) log(`embedded PostgreSQL data goes to ${dataDir} because ${fallbackReason}`);
  const password = await embeddedPassword(dataDir);
  const port = await runningServerPort(dataDir);
  if (port !== undefined) {
    const socketUrl = existingSocketUrl(dataDir, port, 'postgres', password);
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      socketUrl,
      stop: async () => {},
      description: `embedded PostgreSQL already running on port ${port}${socketUrl ? ' and its Unix socket' : ''} (${dataDir})`,
    };
  }
  const server = await startEmbeddedPostgres({ dataDir, password, unixSocket: true });
  return {
    url: server.url,
    socketUrl: server.socketUrl,
    stop: server.stop,
    description: `embedded PostgreSQL 15 on port ${server.port}${server.socketUrl ? ' and its Unix socket' : ''} (${dataDir})`,
  };
}
