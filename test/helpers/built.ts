/**
 * The production build, as `npm start` and the `tenantry` bin run it: `npm run build` (tsc into dist/,
 * incremental), then `node dist/src/cli/main.js` / `node dist/src/server.js` — no tsx, so what the tests
 * run is what ships. Only the tests that exist to prove the build use it (test/built/); the rest run the
 * sources.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type CliResult, collect } from './cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `npm run build` in the checkout (incremental: seconds when dist/ is current). */
export async function buildDist(): Promise<void> {
  await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeout: 280_000 });
}

/** `node dist/src/cli/main.js …` with exactly `env` (plus PATH/HOME), as an operator runs the bin. */
export function runBuiltCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      // The AWS SDK's Node 20 notice on stderr (docs/backup.md).
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}
