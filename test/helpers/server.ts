/**
 * Starts the real server process (src/server.ts through tsx, or with `built` the production build
 * `dist/src/server.js`, see test/helpers/built.ts) on a free port and waits until it listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/db/embedded.ts';
import { onFileEnd } from './cleanup.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnServer(
  env: Record<string, string>,
  port?: number,
  options: {
    built?: boolean;
    startTimeoutMs?: number;
    /** Called with the child as soon as it exists (before it listens). */
    onSpawn?: (child: ChildProcess) => void;
  } = {},
): Promise<ServerProcess> & { child?: ChildProcess } {
  return (async () => {
    const chosen = port ?? (await freePort());
    const entry = options.built ? ['dist/src/server.js'] : ['--import', 'tsx', 'src/server.ts'];
    const child = spawn(process.execPath, entry, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        PORT: String(chosen),
        CC_ADMIN_TOKEN: 'server-process-test-token',
        SCHEMA_POOL_SIZE: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    options.onSpawn?.(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    onFileEnd(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    });
    const deadline = Date.now() + (options.startTimeoutMs ?? 45_000);
    while (!output.includes('Server listening')) {
      if (child.exitCode !== null) break;
      if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { child, port: chosen, url: `http://127.0.0.1:${chosen}`, output: () => output, exited };
  })();
}
