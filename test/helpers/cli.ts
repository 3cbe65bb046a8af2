/**
 * Runs the real CLI (`src/cli/main.ts` through tsx) as a child process, the way an operator would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs a command line in this process (fast, and measured by coverage) with exactly `env` as the
 * environment and stdout/stderr captured. Runs are queued, since the environment is process-wide. Tests
 * that need a real process (to kill it) use spawnCli.
 */
export function runCliInProcess(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const run = queue.then(async () => {
    const { runTenantry } = await import('../../src/cli/run.ts');
    const savedEnv = process.env;
    const savedOut = process.stdout.write;
    const savedErr = process.stderr.write;
    let stdout = '';
    let stderr = '';
    process.env = { ...env };
    process.stdout.write = ((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      const code = await runTenantry(args);
      return { code, signal: null, stdout, stderr };
    } finally {
      process.env = savedEnv;
      process.stdout.write = savedOut;
      process.stderr.write = savedErr;
    }
  });
  queue = run.catch(() => {});
  return run;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCliInProcess(args, {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...env,
  });
}
