/**
 * `tenantry jobs …` — the job queue from the shell (issue 16), and the `--background` fleet migration
 * of `tenantry db upgrade head --all` (enqueued here, run by any server process's job runner).
 *
 * Ids: a UUID is a fleet job (`public.fleet_jobs`, kept as history); a number is a job of the queue
 * (graphile-worker deletes those once they succeed, so the queue shows what waits, runs, retries or
 * failed for good — e.g. an e-mail the mail server kept refusing).
 */
import type { Core } from '../core.ts';
import type { AnyDb } from '../db/hosts.ts';
import {
  cancelQueueJob,
  listQueueJobs,
  type QueueJobState,
  retryQueueJob,
  showQueueJob,
} from '../jobs/admin.ts';
import {
  cancelFleetJob,
  createFleetJob,
  FleetJobError,
  type FleetJobRequest,
  fleetJobView,
  listFleetJobs,
  parseMaxFailures,
  resumeFleetJob,
} from '../jobs/fleet-jobs.ts';
import {
  CliError,
  type CommandGroup,
  EXIT,
  parseOptions,
  print,
  table,
  unknownName,
  withCore,
} from './io.ts';

const HELP = `Usage: tenantry jobs <command> [options]

Commands:
  list   [--state pending|retrying|running|failed] [--fleet] [--page N] [--json]
         the queue's jobs (default), or the fleet migration history (--fleet, newest first)
  show   <id>               (JSON) a queue job (number: task, attempts, last error, payload) or a fleet job (uuid)
  retry  <id>               a queue job: run now with its attempts reset; a fleet job: resume (halted/failed)
  cancel <id>               a queue job: delete it unless running; a fleet job: stop between tenants

Exit codes: 0 ok, 1 not possible (running), 2 bad arguments or no such job.
`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATES: readonly QueueJobState[] = ['pending', 'retrying', 'running', 'failed'];

function jobId(positionals: string[]): { kind: 'fleet' | 'queue'; id: string } {
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new CliError('expected one job id', EXIT.USAGE);
  if (UUID.test(id)) return { kind: 'fleet', id: id.toLowerCase() };
  if (/^\d{1,18}$/.test(id)) return { kind: 'queue', id };
  throw new CliError(`"${id}" is not a job id (a number, or a fleet job's uuid)`, EXIT.USAGE);
}

function fleetError(error: unknown): never {
  if (error instanceof FleetJobError)
    throw new CliError(error.message, error.kind === 'conflict' ? EXIT.FAILED : EXIT.USAGE);
  throw error;
}

/** Why a queue job could not be retried or cancelled: gone (2, as every "no such thing") or running (1). */
async function notPossible(db: AnyDb, id: string): Promise<CliError> {
  return (await showQueueJob(db, id))
    ? new CliError(`job ${id} is running: wait for it to finish`, EXIT.FAILED)
    : new CliError(`job ${id} does not exist (a queue job that succeeded is deleted)`, EXIT.USAGE);
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    argv,
    {
      state: { type: 'string' },
      fleet: { type: 'boolean' },
      page: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  const state = values.state as QueueJobState | undefined;
  if (state !== undefined && !STATES.includes(state))
    throw new CliError(`--state: expected one of ${STATES.join(', ')}`, EXIT.USAGE);
  const page = values.page === undefined ? 1 : Number(values.page);
  if (!Number.isInteger(page) || page < 1)
    throw new CliError('--page: expected a whole number ≥ 1', EXIT.USAGE);
  return withCore(async (core) => {
    const db = core.hosts.db();
    if (values.fleet) {
      const { items, total } = await listFleetJobs(db, page, 20);
      if (values.json) print(JSON.stringify({ items, total, page, size: 20 }, null, 2));
      else {
        print(
          table(
            ['JOB', 'STATUS', 'CREATED', 'DONE', 'FAILED'],
            items.map((job) => [
              job.job_id,
              job.status,
              job.created_at,
              `${job.done}/${job.total}`,
              job.failed,
            ]),
          ),
        );
        print(`\n${total} fleet job(s); page ${page}`);
      }
      return EXIT.OK;
    }
    const jobs = await listQueueJobs(db, { state });
    if (values.json) print(JSON.stringify(jobs, null, 2));
    else {
      print(
        table(
          ['ID', 'TASK', 'STATE', 'ATTEMPTS', 'RUN AT', 'KEY', 'LAST ERROR'],
          jobs.map((job) => [
            job.id,
            job.task,
            job.state,
            `${job.attempts}/${job.max_attempts}`,
            job.run_at,
            job.key,
            job.last_error?.split('\n')[0]?.slice(0, 80) ?? null,
          ]),
        ),
      );
      print(`\n${jobs.length} job(s) in the queue`);
    }
    return EXIT.OK;
  });
}

async function show(argv: string[]): Promise<number> {
  const { positionals } = parseOptions(argv, { json: { type: 'boolean' } });
  const { kind, id } = jobId(positionals);
  return withCore(async (core) => {
    const db = core.hosts.db();
    const job = kind === 'fleet' ? await fleetJobView(db, id) : await showQueueJob(db, id);
    if (!job)
      throw new CliError(`job ${id} does not exist (a queue job that succeeded is deleted)`, EXIT.USAGE);
    print(JSON.stringify(job, null, 2));
    return EXIT.OK;
  });
}

async function retry(argv: string[]): Promise<number> {
  const { positionals } = parseOptions(argv, {});
  const { kind, id } = jobId(positionals);
  return withCore(async (core) => {
    const db = core.hosts.db();
    if (kind === 'fleet') {
      await resumeFleetJob(db, id).catch(fleetError);
      print(`fleet job ${id} resumed`);
      return EXIT.OK;
    }
    if (!(await retryQueueJob(db, id))) throw await notPossible(db, id);
    print(`job ${id} will run now`);
    return EXIT.OK;
  });
}

async function cancel(argv: string[]): Promise<number> {
  const { positionals } = parseOptions(argv, {});
  const { kind, id } = jobId(positionals);
  return withCore(async (core) => {
    const db = core.hosts.db();
    if (kind === 'fleet') {
      const status = await cancelFleetJob(db, id).catch(fleetError);
      print(
        status === 'cancelled'
          ? `fleet job ${id} cancelled`
          : `fleet job ${id} is ${status}: asked to stop after the tenants in flight`,
      );
      return EXIT.OK;
    }
    if (!(await cancelQueueJob(db, id))) throw await notPossible(db, id);
    print(`job ${id} deleted`);
    return EXIT.OK;
  });
}

export const jobCommands: CommandGroup = {
  async run(argv) {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h') {
      print(HELP);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    }
    if (command === 'list') return list(rest);
    if (command === 'show') return show(rest);
    if (command === 'retry') return retry(rest);
    if (command === 'cancel') return cancel(rest);
    throw unknownName('jobs command', command, ['list', 'show', 'retry', 'cancel'], HELP);
  },
};

/** `db upgrade … --all --background`: one fleet job for the server processes to run; prints its id. */
export async function enqueueFleetJob(
  core: Core,
  request: FleetJobRequest,
  options: { canary?: string; maxFailures?: string; json: boolean },
): Promise<number> {
  if (options.canary !== undefined) {
    const canary = options.canary.trim();
    request.canary = /^\d+$/.test(canary)
      ? Number(canary)
      : canary
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean);
  }
  if (options.maxFailures !== undefined) request.max_failures = parseMaxFailuresOrUsage(options.maxFailures);
  const id = await createFleetJob(core.hosts.db(), request).catch(fleetError);
  if (options.json) print(JSON.stringify({ job_id: id }));
  else {
    print(`fleet job ${id} enqueued; a server process runs it`);
    print(`  follow it: tenantry jobs show ${id}   (or GET /cc/jobs/${id})`);
  }
  return EXIT.OK;
}

/** `db upgrade --resume <job id>`: continues a halted fleet job. */
export async function resumeFleetJobCli(core: Core, id: string): Promise<number> {
  if (!UUID.test(id)) throw new CliError(`--resume: "${id}" is not a fleet job id`, EXIT.USAGE);
  await resumeFleetJob(core.hosts.db(), id.toLowerCase()).catch(fleetError);
  print(`fleet job ${id} resumed; a server process runs it`);
  return EXIT.OK;
}

function parseMaxFailuresOrUsage(raw: string): number | string {
  try {
    return parseMaxFailures(raw);
  } catch (error) {
    return fleetError(error);
  }
}
