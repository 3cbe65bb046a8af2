/**
 * ApacheBench (`ab`, Debian package apache2-utils) as the load generator: installed on demand (a fresh CI
 * machine lacks it), run on loopback, its report parsed into the figures the benchmarks print.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

function hasAb(): boolean {
  try {
    execFileSync('ab', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs apache2-utils with apt when `ab` is missing (as root, or through sudo). */
export function ensureAb(): void {
  if (hasAb()) return;
  console.log('ab not found: installing apache2-utils (apt-get update && apt-get install -y apache2-utils)');
  const root = process.getuid?.() === 0;
  const apt = (args: string[]) =>
    execFileSync(root ? 'apt-get' : 'sudo', root ? args : ['apt-get', ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  apt(['update']);
  apt(['install', '-y', 'apache2-utils']);
  if (!hasAb()) throw new Error('apache2-utils was installed but `ab` is still not on the PATH');
}

export interface AbOptions {
  url: string;
  requests: number;
  concurrency: number;
  /**
   * Stop after this many seconds even if `requests` are not done (ab -t, given before -n so -n still
   * counts): keeps slow routes within the bench's time budget.
   */
  seconds?: number;
  headers?: Record<string, string>;
  /** POST this file's content as the body (ab -p). */
  postFile?: string;
  /** Accept responses of varying length (ab -l): bodies with ids or counters differ in length. */
  variableLength?: boolean;
}

export interface AbResult {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  non2xx: number;
  completed: number;
}

function quote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

export function abArgs(options: AbOptions): string[] {
  const args = ['-k', '-c', String(options.concurrency)];
  if (options.seconds) args.push('-t', String(options.seconds));
  args.push('-n', String(options.requests));
  if (options.variableLength) args.push('-l');
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (options.postFile) args.push('-p', options.postFile, '-T', 'application/json');
  args.push(options.url);
  return args;
}

/** The command line, shell-quoted, for BENCHMARKS.md and the console. */
export function abCommand(options: AbOptions): string {
  return ['ab', ...abArgs(options)].map(quote).join(' ');
}

function figure(report: string, pattern: RegExp, fallback?: number): number {
  const match = pattern.exec(report);
  if (!match?.[1]) {
    if (fallback !== undefined) return fallback;
    throw new Error(`ab report without ${pattern}:\n${report}`);
  }
  return Number(match[1]);
}

export function parseAbReport(report: string): AbResult {
  return {
    rps: figure(report, /Requests per second:\s+([\d.]+)/),
    p50: figure(report, /^\s+50%\s+(\d+)/m),
    p99: figure(report, /^\s+99%\s+(\d+)/m),
    failed: figure(report, /Failed requests:\s+(\d+)/),
    // ab prints this line only when some responses were not 2xx.
    non2xx: figure(report, /Non-2xx responses:\s+(\d+)/, 0),
    completed: figure(report, /Complete requests:\s+(\d+)/),
  };
}

export async function ab(options: AbOptions): Promise<AbResult> {
  const { stdout } = await run('ab', abArgs(options), { maxBuffer: 4 * 1024 * 1024, timeout: 180_000 });
  return parseAbReport(stdout);
}
