/**
 * Benchmark plumbing: a throw-away embedded PostgreSQL, the machine's description, medians, and the
 * results file that BENCHMARKS.md is rendered from.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { type RunningPostgres, startEmbeddedPostgres } from '../src/db/embedded.ts';

export interface Measurement {
  /** Row label, e.g. "fleet upgrade, 1,000 fresh tenants". */
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  /** The SPEC target, e.g. "≤ 20 s". */
  target?: string;
  met?: boolean;
  note?: string;
}

export interface Section {
  title: string;
  command: string;
  measuredAt: string;
  machine: string;
  rows: Measurement[];
  notes?: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarise(
  name: string,
  unit: string,
  values: number[],
  target?: { text: string; ok: (median: number) => boolean },
  note?: string,
): Measurement {
  const m = median(values);
  return {
    name,
    unit,
    median: round(m),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
    runs: values.length,
    ...(target ? { target: target.text, met: target.ok(m) } : {}),
    ...(note ? { note } : {}),
  };
}

export const round = (value: number) =>
  Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;

export function machineDescription(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let pg = '';
  try {
    pg = execFileSync('pg_dump', ['--version']).toString().trim().replace('pg_dump (PostgreSQL) ', 'client ');
  } catch {
    pg = 'no pg_dump';
  }
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, embedded PostgreSQL 15.18 (${pg})`;
}

/** The 1-minute load average, for the notes of a measurement on a shared machine. */
export const loadAverage = (): number => Math.round(loadavg()[0]! * 10) / 10;

/**
 * A throw-away embedded PostgreSQL. `defaults`: PostgreSQL's own max_connections (100) and
 * max_locks_per_transaction (64), as on a managed service (the fleet-size bench).
 */
export async function benchPostgres(
  options: { defaults?: boolean } = {},
): Promise<RunningPostgres & { cleanup: () => Promise<void>; socketUrl: string }> {
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-bench-'));
  await chmod(folder, 0o755);
  // PostgreSQL (running as the postgres OS user) creates its Unix socket here; the bench only.
  const socketDir = path.join(folder, 'socket');
  await mkdir(socketDir);
  await chmod(socketDir, 0o777);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(folder, 'pg'),
    settings: options.defaults
      ? { max_connections: '100', shared_buffers: '512MB', unix_socket_directories: socketDir }
      : {
          max_connections: '300',
          shared_buffers: '512MB',
          max_locks_per_transaction: '256',
          unix_socket_directories: socketDir,
        },
  });
  const tcp = new URL(server.url);
  // The same server and credentials through the socket: `host` names the socket's folder (pg and libpq);
  // credentials go in the query too, since a URL cannot carry them without a host name.
  const query = new URLSearchParams({
    host: socketDir,
    port: tcp.port,
    user: tcp.username,
    password: tcp.password,
  });
  const socketUrl = `postgres:///postgres?${query}`;
  return {
    ...server,
    socketUrl,
    cleanup: async () => {
      await server.stop();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

const RESULTS = new URL('./results.json', import.meta.url);

async function readResults(): Promise<Record<string, Section>> {
  return existsSync(RESULTS) ? JSON.parse(await readFile(RESULTS, 'utf8')) : {};
}

/** BENCHMARKS.md from bench/results.json and bench/analysis.md, measuring nothing. */
export async function renderAgain(): Promise<void> {
  await writeMarkdown(await readResults());
}

export async function saveSection(key: string, section: Section): Promise<void> {
  const all = await readResults();
  all[key] = section;
  await writeFile(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
  await writeMarkdown(all);
}

async function writeMarkdown(all: Record<string, Section>): Promise<void> {
  // The hand-written analysis (profiles, where the time goes, remaining gaps) follows the tables.
  const analysis = existsSync(ANALYSIS) ? await readFile(ANALYSIS, 'utf8') : '';
  await writeFile(new URL('../BENCHMARKS.md', import.meta.url), `${renderMarkdown(all)}${analysis}`);
}

const ANALYSIS = new URL('./analysis.md', import.meta.url);

function renderMarkdown(all: Record<string, Section>): string {
  const parts = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (all sections) or `npm run bench -- --only <section>`; the numbers below are',
    'copied from `bench/results.json` by the bench itself. Every figure is the median of several runs, with',
    'min and max, measured on the machine named in each section. Targets are SPEC section 10.',
    '',
  ];
  // Always in this order, whichever section ran last.
  const order = ['http', 'memory', 'fleet', 'scale'];
  const sections = Object.entries(all).sort(
    ([a], [b]) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99),
  );
  for (const [, section] of sections) {
    parts.push(
      `## ${section.title}`,
      '',
      `Command: \`${section.command}\`  `,
      `Measured: ${section.measuredAt} on ${section.machine}`,
      '',
    );
    parts.push(
      '| measurement | median | min | max | runs | target | met |',
      '|---|---:|---:|---:|---:|---|---|',
    );
    for (const row of section.rows) {
      parts.push(
        `| ${row.name}${row.note ? ` (${row.note})` : ''} | ${row.median} ${row.unit} | ${row.min} | ${row.max} | ${row.runs} | ${row.target ?? ''} | ${
          row.met === undefined ? '' : row.met ? 'yes' : '**no**'
        } |`,
      );
    }
    if (section.notes?.length) parts.push('', ...section.notes.map((note) => `- ${note}`));
    parts.push('');
  }
  return `${parts.join('\n')}\n`;
}
