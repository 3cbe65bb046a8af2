/**
 * The server as production runs it: `npm run build`, then `node dist/src/server.js` with NODE_ENV=production
 * in a child process (with its node:cluster workers when WEB_CONCURRENCY > 1), plus its memory as the OS
 * sees it (VmRSS of the primary and of every worker).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

let built = false;

/** `npm run build` (incremental tsc), once per bench: it always measures the code of this checkout. */
export function buildProduction(): void {
  if (built) return;
  built = true;
  const started = performance.now();
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`production build: ${Math.round(performance.now() - started)} ms`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerOptions {
  databaseUrl: string;
  dataDir: string;
  adminToken: string;
  webConcurrency: number;
  logFile: string;
  /** Extra node flags, e.g. `--cpu-prof` for a profile of the primary (WEB_CONCURRENCY=1). */
  nodeArgs?: string[];
  /** Extra environment variables (e.g. the pool bounds of bench/overload.ts). */
  env?: Record<string, string>;
}

export interface RunningServer {
  port: number;
  base: string;
  pid: number;
  stop: () => Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), path.join(ROOT, 'dist/src/server.js')],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        CC_ADMIN_TOKEN: options.adminToken,
        DATA_DIR: options.dataDir,
        DATABASE_URL: options.databaseUrl,
        HOST: '127.0.0.1',
        PORT: String(port),
        WEB_CONCURRENCY: String(options.webConcurrency),
        MIGRATE_TENANTS_ON_START: 'background',
        ...options.env,
      },
    },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the server exited during start-up; see ${options.logFile}`);
    if (Date.now() > deadline)
      throw new Error(`the server did not answer /health in 60 s; see ${options.logFile}`);
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (options.webConcurrency > 1) {
    // The first worker answers /health; wait until all of them are forked and listening.
    while (workerPids(child.pid ?? 0).length < options.webConcurrency && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
  }
  return {
    port,
    base,
    pid: child.pid ?? 0,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await exit;
      log.end();
    },
  };
}

function workerPids(pid: number): number[] {
  try {
    // Children forked by the primary's main thread (node:cluster forks from it).
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .map(Number)
      .filter((value) => value > 0);
  } catch {
    return [];
  }
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export interface ServerMemory {
  /** RSS of the process that serves (the only process with WEB_CONCURRENCY=1; the largest worker else). */
  servingMb: number;
  /** Primary + every worker. */
  totalMb: number;
  processes: number;
}

export async function serverMemory(server: RunningServer): Promise<ServerMemory> {
  const primary = await rssMb(server.pid);
  const workers = await Promise.all(workerPids(server.pid).map(rssMb));
  return {
    servingMb: workers.length ? Math.max(...workers) : primary,
    totalMb: primary + workers.reduce((sum, value) => sum + value, 0),
    processes: 1 + workers.length,
  };
}
