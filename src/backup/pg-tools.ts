/**
 * The PostgreSQL client programs the tool drives: pg_dump, pg_restore and psql. They must exist and be at
 * least the server's major version (an older pg_dump refuses a newer server, and pg_restore cannot read
 * archives from a newer pg_dump), so `findTools` checks both before anything is touched.
 *
 * Passwords never go on a command line (other users can read it in `ps`): the URL given to the programs
 * has it removed and it travels in PGPASSWORD instead.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { BackupError } from './errors.ts';

const execFileAsync = promisify(execFile);

export type ToolName = 'pg_dump' | 'pg_restore' | 'psql';

export interface FoundTool {
  path: string;
  version: string;
  major: number;
}

export type Tools = Record<ToolName, FoundTool>;

const installHint = (major: number) =>
  `install the PostgreSQL ${major} client programs (Debian/Ubuntu: apt-get install postgresql-client-${major}; ` +
  `macOS: brew install postgresql@${major}) or point TENANTRY_PG_BIN_DIR / [setup] pg_bin_dir at their bin folder`;

async function locate(
  name: ToolName,
  binDir: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  const folders = binDir !== undefined ? [binDir] : (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const folder of folders) {
    const candidate = path.join(folder, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Finds `names` and checks each is at least `serverMajor`; throws one message covering every problem. */
export async function findTools<N extends ToolName>(
  names: readonly N[],
  serverMajor: number,
  binDir: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Pick<Tools, N>> {
  const problems: string[] = [];
  const found = {} as Pick<Tools, N>;
  for (const name of names) {
    const binary = await locate(name, binDir, env);
    if (binary === undefined) {
      problems.push(`${name} was not found ${binDir ? `in ${binDir}` : 'on PATH'}`);
      continue;
    }
    let version: string;
    try {
      // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
      const { stdout } = await execFileAsync(binary, ['--version']);
      version = /\(PostgreSQL\)\s+(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
    } catch (error) {
      problems.push(`${binary} --version failed: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const major = Number.parseInt(version, 10);
    if (!(major >= serverMajor)) {
      problems.push(`${binary} is version ${version}, older than the server (PostgreSQL ${serverMajor})`);
      continue;
    }
    found[name] = { path: binary, version, major };
  }
  if (problems.length > 0) throw new BackupError(`${problems.join('; ')}: ${installHint(serverMajor)}`);
  return found;
}

/** The connection for a client program: the URL without its password, and the password in the env. */
export function toolConnection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: '10' };
  // Let each program name itself in pg_stat_activity (pg_dump, pg_restore, psql).
  delete env.PGAPPNAME;
  if (password !== '') env.PGPASSWORD = password;
  return { dbname: parsed.toString(), env };
}

export interface RunningTool {
  child: ChildProcess;
  /** Resolves when the program exits 0; rejects with its last stderr lines otherwise. */
  done: Promise<void>;
}

/** Starts a client program; stderr is kept for the error message (and echoed when `verbose`). */
export function startTool(
  tool: FoundTool,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    stdin?: 'pipe' | 'ignore';
    stdout?: 'pipe' | 'ignore';
    verbose?: boolean;
  },
): RunningTool {
  const child = spawn(tool.path, args, {
    env: options.env,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8_000);
    if (options.verbose) process.stderr.write(chunk);
  });
  const name = path.basename(tool.path);
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (error) => reject(new BackupError(`${name} could not start: ${error.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const tail = stderr.trim().split('\n').slice(-6).join('\n  ');
        reject(
          new BackupError(`${name} failed (${signal ?? `exit code ${code}`})${tail ? `:\n  ${tail}` : ''}`),
        );
      }
    });
  });
  return { child, done };
}

export async function runTool(
  tool: FoundTool,
  args: string[],
  options: { env: NodeJS.ProcessEnv; verbose?: boolean },
): Promise<void> {
  await startTool(tool, args, options).done;
}
