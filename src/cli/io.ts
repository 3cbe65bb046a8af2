/**
 * Shared CLI plumbing: exit codes scripts can trust, argument parsing with clear errors, and opening the
 * Core (database) the same way the server does.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, environmentWithDotenv, loadConfig } from '../config.ts';
import { type Core, openCore } from '../core.ts';
import { openDefaultDatabase } from '../db/default-database.ts';

/** Exit codes. Keep in sync with the README's CLI section. */
export const EXIT = {
  OK: 0,
  /** Something failed (a migration, a tenant, a backup) or `check` found work to do. */
  FAILED: 1,
  /**
   * Bad arguments or configuration, including an argument that names nothing: a tenant, domain, job or
   * backup that does not exist is 2 in every command group (something that exists but cannot be done
   * now — taken, running, already there — is 1).
   */
  USAGE: 2,
  /** The database holds revisions this code does not know (database newer than code). */
  DATABASE_AHEAD: 3,
} as const;

export interface CommandGroup {
  run(argv: string[]): Promise<number>;
}

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
  }
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest of `known` to a mistyped `name` (at most 2 edits, or a prefix of one), if any. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: { candidate: string; cost: number } | undefined;
  for (const candidate of known) {
    const cost = candidate.startsWith(name) && name.length >= 2 ? 1 : distance(name, candidate);
    if (cost <= 2 && (!best || cost < best.cost)) best = { candidate, cost };
  }
  return best?.candidate;
}

/** The usage error for an unknown command or group, with a suggestion when one is close. */
export function unknownName(kind: string, name: string, known: readonly string[], help: string): CliError {
  const suggestion = closest(name, known);
  return new CliError(
    `unknown ${kind} "${name}"${suggestion ? ` — did you mean "${suggestion}"?` : ''}\n\n${help}`,
    EXIT.USAGE,
  );
}

/** Set by `--debug` (or TENANTRY_DEBUG): unexpected errors print their stack trace. */
let debug = Boolean(process.env.TENANTRY_DEBUG);
export function setDebug(on: boolean): void {
  debug = on;
}

export function printError(error: unknown): number {
  if (error instanceof CliError) {
    process.stderr.write(`tenantry: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`tenantry: ${error.message}\n`);
    return EXIT.USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tenantry: ${message}\n`);
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return EXIT.FAILED;
}

/** parseArgs in strict mode, turning its errors into usage errors that name the offending flag. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals, allowNegative: false });
  } catch (error) {
    let message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '--([^']+)'/.exec(message);
    const suggestion = unknown && closest(unknown[1]!, Object.keys(options));
    if (suggestion) message = `unknown option --${unknown[1]} — did you mean --${suggestion}?`;
    throw new CliError(message, EXIT.USAGE);
  }
}

/** Opens the Core against DATABASE_URL or the embedded server; `use` runs with it, then all is closed. */
export async function withCore<T>(
  use: (core: Core) => Promise<T>,
  options: { migratePublic?: boolean } = {},
): Promise<T> {
  const config = loadConfig(environmentWithDotenv());
  const database = await openDefaultDatabase(config, (message) =>
    process.stderr.write(`tenantry: ${message}\n`),
  );
  try {
    const core = await openCore(config, { defaultDatabaseUrl: database.url, poolSize: 8 });
    try {
      if (options.migratePublic ?? true) await core.migratePublic();
      return await use(core);
    } finally {
      await core.close();
    }
  } finally {
    await database.stop();
  }
}

export const print = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};

/** A fixed-width text table for terminals. */
export function table(headers: string[], rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell))));
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
