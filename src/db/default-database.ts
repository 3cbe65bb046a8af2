/**
 * Which PostgreSQL the default host is: DATABASE_URL when set, otherwise the embedded server with its
 * data in `<DATA_DIR>/pg` (or the OS temp fallback, SPEC 9). If an embedded server already runs on that
 * folder (another `npm start`, or the CLI next to a running server), it is reused rather than started
 * twice — PostgreSQL's postmaster.pid tells us its port.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
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

const EMBEDDED_PASSWORD = 'postgres';

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
  const { dataDir, fallbackReason } = await chooseDataDir(path.join(config.dataDir, 'pg'));
  if (fallbackReason) log(`embedded PostgreSQL data goes to ${dataDir} because ${fallbackReason}`);
  const port = await runningServerPort(dataDir);
  if (port !== undefined) {
    const socketUrl = existingSocketUrl(dataDir, port, 'postgres', EMBEDDED_PASSWORD);
    return {
      url: `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`,
      socketUrl,
      stop: async () => {},
      description: `embedded PostgreSQL already running on port ${port}${socketUrl ? ' and its Unix socket' : ''} (${dataDir})`,
    };
  }
  const server = await startEmbeddedPostgres({ dataDir, password: EMBEDDED_PASSWORD, unixSocket: true });
  return {
    url: server.url,
    socketUrl: server.socketUrl,
    stop: server.stop,
    description: `embedded PostgreSQL 15 on port ${server.port}${server.socketUrl ? ' and its Unix socket' : ''} (${dataDir})`,
  };
}
