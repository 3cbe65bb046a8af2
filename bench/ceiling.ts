/**
 * The database's own ceiling for a route (issue 15): the statements one warm request of the route sends,
 * captured from the code path (never copied by hand), replayed by `pgbench` on the same database with
 * the same parameters, as prepared statements like the server's. Tenantry's requests/s as a percentage
 * of pgbench's transactions/s (one transaction = the route's statements, in autocommit as the server
 * sends them) says how much of what PostgreSQL can answer the server turns into HTTP answers.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InjectOptions } from 'fastify';
import pg from 'pg';
import type { App } from '../src/app.ts';

const run = promisify(execFile);

export interface CapturedStatement {
  text: string;
  values: unknown[];
}

type Query = (...args: unknown[]) => unknown;

/**
 * Every statement this process sends to PostgreSQL while `work` runs (pg.Client.prototype.query is
 * the one door of the pool, Kysely and the prepared statements alike). Run it on an app whose job
 * runner is off, so nothing else of the process talks to the database meanwhile.
 */
export async function captureStatements(work: () => Promise<unknown>): Promise<CapturedStatement[]> {
  const captured: CapturedStatement[] = [];
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const [config, values] = args;
    if (typeof config === 'string') captured.push({ text: config, values: (values as unknown[]) ?? [] });
    else if (config && typeof (config as { text?: unknown }).text === 'string') {
      const query = config as { text: string; values?: unknown[] };
      captured.push({ text: query.text, values: query.values ?? (values as unknown[]) ?? [] });
    }
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    proto.query = original;
  }
  return captured;
}

/** The statements of one request of `request` once warm (tenant known, principal cached). */
export async function routeStatements(app: App, request: InjectOptions): Promise<CapturedStatement[]> {
  await app.registryCache.whenListening();
  for (let i = 0; i < 2; i++) {
    const warm = await app.inject(request);
    if (warm.statusCode !== 200)
      throw new Error(`warm-up of ${request.url}: ${warm.statusCode} ${warm.body}`);
  }
  return captureStatements(async () => {
    const answer = await app.inject(request);
    if (answer.statusCode !== 200) throw new Error(`${request.url}: ${answer.statusCode} ${answer.body}`);
  });
}

/** A parameter as pgbench's `-D name=value` text (PostgreSQL's input syntax of the value's type). */
function parameterText(value: unknown): string {
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  throw new Error(`pgbench cannot pass the parameter ${String(value)} (${typeof value})`);
}

/**
 * pgbench reads `:name` as a variable everywhere, string literals included, so a literal holding a colon
 * (the ISO timestamp format `'…HH24:MI:SS…'`) is written as the same constant in escape syntax (`E'…\x3a…'`):
 * PostgreSQL parses both to the same value, so the plan and the work are the same.
 */
export function pgbenchSafeText(text: string): string {
  return text.replace(/'((?:[^']|'')*)'/g, (literal, body: string) =>
    body.includes(':') ? `E'${body.replaceAll('\\', '\\\\').replaceAll(':', '\\x3a')}'` : literal,
  );
}

export interface PgbenchScript {
  script: string;
  /** `-D` definitions of the parameters. */
  defines: string[];
}

/** The statements as one pgbench transaction: `$n` of statement i becomes the variable `:s<i>_<n>`. */
export function pgbenchScript(statements: CapturedStatement[]): PgbenchScript {
  const defines: string[] = [];
  const lines = statements.map((statement, i) => {
    for (const [n, value] of statement.values.entries())
      defines.push(`s${i}_${n + 1}=${parameterText(value)}`);
    const text = pgbenchSafeText(statement.text).replace(/\$(\d+)/g, (_, n: string) => `:s${i}_${n}`);
    // One statement per line for pgbench (a newline ends a command unless the line continues it).
    return `${text.replace(/\s*\n\s*/g, ' ')};`;
  });
  return { script: `${lines.join('\n')}\n`, defines };
}

export function pgbenchPath(): string {
  for (const candidate of ['/usr/lib/postgresql/15/bin/pgbench', '/usr/bin/pgbench'])
    if (existsSync(candidate)) return candidate;
  return 'pgbench';
}

export interface PgbenchRun {
  tps: number;
  command: string;
}

/** One timed pgbench run of `script` on `databaseUrl` (`-M prepared`, `clients` connections). */
export async function runPgbench(
  databaseUrl: string,
  script: PgbenchScript,
  folder: string,
  options: { clients: number; threads: number; seconds: number },
): Promise<PgbenchRun> {
  const file = path.join(folder, 'route.pgbench.sql');
  await writeFile(file, script.script);
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(options.clients),
    '-j',
    String(options.threads),
    '-T',
    String(options.seconds),
    '-f',
    file,
    ...script.defines.flatMap((define) => ['-D', define]),
    databaseUrl,
  ];
  const { stdout } = await run(pgbenchPath(), args, { maxBuffer: 1 << 20 });
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!match?.[1]) throw new Error(`pgbench printed no tps:\n${stdout}`);
  const shown = args.map((a) => (a === databaseUrl ? 'DATABASE_URL' : a.includes('=') ? `'${a}'` : a));
  return { tps: Number(match[1]), command: `pgbench ${shown.join(' ')}` };
}
