/** Argument parsing shared by the `tenantry db` commands: clear usage errors (exit 2) naming the flag. */
import { tenantIdProblem } from '../tenancy/tenant-id.ts';
import { CliError, EXIT } from './io.ts';

/** `-1`, `-2` … are revisions for downgrade, not flags: lift them out before parseArgs sees them. */
export function splitRelativeSteps(argv: string[]): { argv: string[]; relative: string | undefined } {
  const index = argv.findIndex((arg) => /^-\d+$/.test(arg));
  if (index < 0) return { argv, relative: undefined };
  return { argv: argv.filter((_, i) => i !== index), relative: argv[index] };
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new CliError(
      `expected exactly one ${what}, got ${positionals.length ? positionals.join(' ') : 'none'}`,
      EXIT.USAGE,
    );
  }
  return positionals[0]!;
}

export function tenantOption(value: string | undefined, required: boolean): string | undefined {
  if (value === undefined) {
    if (required)
      throw new CliError('--tenant <id|public> is required (or --all where supported)', EXIT.USAGE);
    return undefined;
  }
  if (value !== 'public') {
    const problem = tenantIdProblem(value);
    if (problem) throw new CliError(`--tenant ${JSON.stringify(value)}: ${problem}`, EXIT.USAGE);
  }
  return value;
}

export function listOption(value: string | undefined, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  for (const item of items) {
    const problem = tenantIdProblem(item);
    if (problem) throw new CliError(`${name} ${JSON.stringify(item)}: ${problem}`, EXIT.USAGE);
  }
  if (items.length === 0) throw new CliError(`${name} needs at least one tenant id`, EXIT.USAGE);
  return items;
}

export function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 64) {
    throw new CliError(
      `${name} must be a whole number from 1 to 64, got ${JSON.stringify(value)}`,
      EXIT.USAGE,
    );
  }
  return Number(value);
}
