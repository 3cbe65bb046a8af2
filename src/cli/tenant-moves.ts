/**
 * `tenantry tenants move` (issue 17): one tenant to another database host, the resumption of an
 * interrupted move, or a whole host drained. The move runs in this process (progress printed as it
 * happens); `POST /cc/tenants/{id}/move` runs the same code as a job. src/tenancy/moves/ has the engine.
 */
import type { Core } from '../core.ts';
import {
  MoveError,
  type MoveResult,
  moveToResume,
  runMove,
  startMove,
} from '../tenancy/moves/move-engine.ts';
import { isTenantId } from '../tenancy/tenant-id.ts';
import { CliError, EXIT, parseOptions, print, table, withCore } from './io.ts';

export const MOVE_HELP = `Usage: tenantry tenants move <id> --to <host> [--dry-run] [--method auto|logical|dump] [--json]
       tenantry tenants move <id> --resume [--json]
       tenantry tenants move --from <host> --to <host> [--concurrency N] [--dry-run] [--method …] [--json]

Moves a tenant's schema to another database host (TENANT_DATABASE_URLS), then serves it from there.

  --to           the target host
  --dry-run      copy and verify into a scratch schema on the target, drop it; nothing switches
  --method       auto (default): logical replication when the source can (wal_level=logical, a role with
                 REPLICATION, PostgreSQL 15, primary keys everywhere), else pg_dump/pg_restore with the
                 tenant's writes held for the whole copy. logical or dump force one.
  --resume       finish or undo the tenant's interrupted move (a killed process, a host that was down)
  --from         drain: move every tenant of this host to --to; one failure does not stop the others
  --concurrency  drain: moves at once (default 2)
  --json         print the result(s) as JSON

Logical replication: reads and writes go on during the copy; at the switch writes wait (at most a few
seconds) and are then answered 503 + Retry-After until clients retry against the new host.
Exit codes: 0 moved (or verified), 1 failed (the tenant stays where it was), 2 bad arguments.
`;

const time = () => new Date().toISOString().slice(11, 23);

function progress(prefix: string, json: boolean) {
  return (step: string, note?: string) => {
    if (json) return;
    print(`${time()}  ${prefix}${step}${note ? ` — ${note}` : ''}`);
  };
}

function cliErrorOf(error: unknown): unknown {
  if (error instanceof MoveError)
    return new CliError(error.message, error.kind === 'bad_request' ? EXIT.USAGE : EXIT.FAILED);
  return error;
}

function describe(result: MoveResult): string {
  if (result.state === 'done' && result.dry_run)
    return `dry run of ${result.tenant_id} (${result.from} → ${result.to}) verified with ${result.method}; nothing switched`;
  if (result.state === 'done')
    return `moved ${result.tenant_id} from ${result.from} to ${result.to} with ${result.method} in ${result.duration_ms} ms (writes held ${result.hold_ms ?? '-'} ms)`;
  return `move of ${result.tenant_id} ${result.state}: ${result.error ?? ''}`;
}

const method = (value: string | undefined): 'auto' | 'logical' | 'dump' => {
  if (value === undefined || value === 'auto' || value === 'logical' || value === 'dump')
    return value ?? 'auto';
  throw new CliError(`--method ${JSON.stringify(value)}: expected auto, logical or dump`, EXIT.USAGE);
};

export async function moveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    to: { type: 'string' },
    from: { type: 'string' },
    'dry-run': { type: 'boolean' },
    resume: { type: 'boolean' },
    method: { type: 'string' },
    concurrency: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    print(MOVE_HELP);
    return EXIT.OK;
  }
  const json = values.json ?? false;
  const options = { method: method(values.method) };
  if (values.from !== undefined) {
    if (positionals.length > 0 || values.resume)
      throw new CliError(
        `--from drains a whole host: give no tenant id and no --resume\n\n${MOVE_HELP}`,
        EXIT.USAGE,
      );
    if (values.to === undefined) throw new CliError(`--from needs --to\n\n${MOVE_HELP}`, EXIT.USAGE);
    const concurrency = Number(values.concurrency ?? 2);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32)
      throw new CliError('--concurrency must be a whole number from 1 to 32', EXIT.USAGE);
    const { from, to } = { from: values.from, to: values.to };
    return withCore((core) =>
      drain(core, from, to, { ...options, concurrency, dryRun: values['dry-run'] ?? false, json }),
    );
  }
  if (positionals.length !== 1 || !isTenantId(positionals[0]))
    throw new CliError(`tenants move expects one tenant id (or --from <host>)\n\n${MOVE_HELP}`, EXIT.USAGE);
  const tenantId = positionals[0];
  if (values.resume && (values.to !== undefined || values['dry-run']))
    throw new CliError('--resume continues the recorded move: give neither --to nor --dry-run', EXIT.USAGE);
  if (!values.resume && values.to === undefined)
    throw new CliError(`--to is required\n\n${MOVE_HELP}`, EXIT.USAGE);
  return withCore(async (core) => {
    const id = await (values.resume
      ? moveToResume(core, tenantId).then((row) => row.id)
      : startOrResume(core, tenantId, values.to!, values['dry-run'] ?? false)
    ).catch((error: unknown) => {
      throw cliErrorOf(error);
    });
    if (!json) print(`move ${id}`);
    const result = await runMove(core, id, { ...options, onProgress: progress('', json) }).catch(
      (error: unknown) => {
        throw cliErrorOf(error);
      },
    );
    if (json) print(JSON.stringify(result, null, 2));
    else print(describe(result));
    return result.state === 'done' ? EXIT.OK : EXIT.FAILED;
  });
}

/** A new move — or, when the same move (tenant, target) was interrupted, that one: the next run resumes it. */
async function startOrResume(core: Core, tenantId: string, to: string, dryRun: boolean): Promise<string> {
  const open = await moveToResume(core, tenantId).catch(() => undefined);
  if (open && open.to_host === to && open.dry_run === dryRun) {
    process.stderr.write(`tenantry: resuming the interrupted move ${open.id} (${open.state})\n`);
    return open.id;
  }
  return startMove(core, tenantId, to, { dryRun });
}

interface DrainOutcome {
  tenant_id: string;
  state: string;
  method: string | null;
  hold_ms: number | null;
  duration_ms: number;
  error: string | null;
}

/** Every tenant of `from` to `to`, `concurrency` at a time; a failed tenant stays and the rest go on. */
async function drain(
  core: Core,
  from: string,
  to: string,
  options: { concurrency: number; dryRun: boolean; json: boolean; method: 'auto' | 'logical' | 'dump' },
): Promise<number> {
  for (const host of [from, to])
    if (!core.hosts.has(host))
      throw new CliError(
        `unknown database host "${host}" (configured: ${core.hosts.names().join(', ')})`,
        EXIT.USAGE,
      );
  if (from === to) throw new CliError('--from and --to name the same host', EXIT.USAGE);
  const tenants = await core.registry.list({ host: from, statuses: ['active', 'suspended'] });
  if (!options.json)
    print(`draining ${from}: ${tenants.length} tenant(s) to ${to}, ${options.concurrency} at a time`);
  const queue = tenants.map((tenant) => tenant.tenant_id);
  const outcomes: DrainOutcome[] = [];
  const worker = async () => {
    for (let tenantId = queue.shift(); tenantId !== undefined; tenantId = queue.shift()) {
      const began = performance.now();
      try {
        const id = await startMove(core, tenantId, to, { dryRun: options.dryRun });
        const result = await runMove(core, id, {
          method: options.method,
          onProgress: progress(`${tenantId}: `, options.json),
        });
        outcomes.push({
          tenant_id: tenantId,
          state: result.state,
          method: result.method,
          hold_ms: result.hold_ms,
          duration_ms: result.duration_ms,
          error: result.error,
        });
      } catch (error) {
        outcomes.push({
          tenant_id: tenantId,
          state: 'failed',
          method: null,
          hold_ms: null,
          duration_ms: Math.round(performance.now() - began),
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  outcomes.sort((a, b) => a.tenant_id.localeCompare(b.tenant_id));
  const failed = outcomes.filter((outcome) => outcome.state !== 'done').length;
  if (options.json) {
    print(
      JSON.stringify(
        { from, to, total: outcomes.length, moved: outcomes.length - failed, failed, results: outcomes },
        null,
        2,
      ),
    );
  } else {
    print('');
    print(
      table(
        ['TENANT', 'RESULT', 'METHOD', 'HOLD_MS', 'DURATION_MS', 'ERROR'],
        outcomes.map((o) => [o.tenant_id, o.state, o.method, o.hold_ms, o.duration_ms, o.error]),
      ),
    );
    print(
      `\n${outcomes.length - failed} of ${outcomes.length} tenant(s) ${options.dryRun ? 'verified' : 'moved'} from ${from} to ${to}; ${failed} failed`,
    );
  }
  return failed > 0 ? EXIT.FAILED : EXIT.OK;
}
