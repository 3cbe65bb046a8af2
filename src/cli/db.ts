/**
 * `tenantry db …` — the migration commands, mirroring the predecessor's Alembic habits (SPEC 5.4):
 *
 *   alembic -x tenant=public upgrade d6ba8c13303e   →  tenantry db upgrade <rev> --tenant public
 *   alembic -x tenant=a upgrade head                 →  tenantry db upgrade head --tenant a
 *   alembic -x dry_run=True -x tenant=a upgrade head →  tenantry db upgrade head --tenant a --dry-run
 *   alembic upgrade head                             →  tenantry db upgrade head --all
 *   alembic downgrade -1                             →  tenantry db downgrade -1 --tenant a
 *   alembic revision -m "Add manual change"          →  tenantry db revision -m "Add manual change"
 *
 * Argument parsing lives in db-options.ts, printing in db-output.ts, status lines in db-status.ts.
 */

import type { Core } from '../core.ts';
import { detectDrift } from '../migrations/drift.ts';
import { upgradeFleet } from '../migrations/fleet.ts';
import { downgradeFleet } from '../migrations/fleet-downgrade.ts';
import { MigrationSetError } from '../migrations/migration-set.ts';
import { writeRevisionFile } from '../migrations/revision-file.ts';
import {
  DataLossError,
  MigrationFailedError,
  RunnerInputError,
  SchemaExistsError,
  UnknownRevisionError,
} from '../migrations/runner.ts';
import { listOrphanSchemas } from '../tenancy/orphans.ts';
import { downgradeTenant, findTenantOrThrow, upgradeTenant } from '../tenancy/tenant-migrations.ts';
import { TenantNotFoundError } from '../tenancy/tenant-service.ts';
import {
  listOption,
  onePositional,
  positiveInteger,
  splitRelativeSteps,
  tenantOption,
} from './db-options.ts';
import { printFleet, printFleetDowngrade, printRun, progressBar } from './db-output.ts';
import { publicTarget, type StatusLine, type StatusScope, statuses } from './db-status.ts';
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
import { enqueueFleetJob, resumeFleetJobCli } from './jobs.ts';

const HELP = `Usage: tenantry db <command> [options]

Commands:
  upgrade <rev|head>   --tenant <id|public> | --all   [--dry-run] [--json]
                       fleet options with --all: [--tenants a,b] [--only-failed] [--host h] [--concurrency N]
                       [--background [--canary <n|a,b>] [--max-failures <n|p%>]]   as a job run by the servers
                       --resume <job id>                    continue a halted background fleet job
                       an explicit upgrade unpins a tenant; --all skips pinned tenants unless --tenants names them
  downgrade <-N|rev|base> --tenant <id|public> | --all [--tenants a,b] [--host h] [--concurrency N]
                       [--confirm <id>[,<id>]] [--dry-run] [--json]
                       pins each tenant at its new revision; refuses to drop tables/columns holding rows
                       unless the schema is named in --confirm (--dry-run shows what would be dropped)
  current              [--tenant <id|public> | --public] [--json]   default: public and every tenant
  history              [--tenant <id|public>]         [--json]   (default: the tenant set, no schema)
  check                [--tenant <id|public> | --public] [--json]   default: public and every tenant;
                       exit 1 if anything is behind head, failed, ahead of the code or drifted
  stamp <rev|head|base> --tenant <id|public>                     record a version without running anything
  drift                [--tenants a,b] [--host h]     [--json]   compare tenant catalogs with a fresh head
  revision -m "message" [--public] [--dir folder]                write a new migration file from the template

Revisions may be abbreviated to a unique prefix of at least 4 hex characters, as with Alembic.
A tenant id in --tenants or --confirm that is not in the registry is refused (exit 2), naming it.
Exit codes: 0 ok, 1 failed, refused or behind (check), 2 bad arguments, 3 database newer than the code.
`;

const COMMON = {
  tenant: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function upgrade(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    ...COMMON,
    'dry-run': { type: 'boolean' },
    tenants: { type: 'string' },
    'only-failed': { type: 'boolean' },
    host: { type: 'string' },
    concurrency: { type: 'string' },
    background: { type: 'boolean' },
    canary: { type: 'string' },
    'max-failures': { type: 'string' },
    resume: { type: 'string' },
  });
  if (values.help) return helpAndExit();
  if (values.resume !== undefined) return withCore((core) => resumeFleetJobCli(core, values.resume ?? ''));
  if ((values.canary !== undefined || values['max-failures'] !== undefined) && !values.background)
    throw new CliError('--canary and --max-failures go with --all --background', EXIT.USAGE);
  if (values.background && !values.all) throw new CliError('--background goes with --all', EXIT.USAGE);
  const revision = onePositional(positionals, 'revision (head or a revision id)');
  const json = values.json ?? false;
  const dryRun = values['dry-run'] ?? false;
  if (values.all && values.tenant) throw new CliError('use either --tenant or --all, not both', EXIT.USAGE);
  if (!values.all && (values.tenants || values['only-failed'] || values.host || values.concurrency)) {
    throw new CliError('--tenants, --only-failed, --host and --concurrency go with --all', EXIT.USAGE);
  }
  const tenant = values.all ? undefined : tenantOption(values.tenant, true);
  const tenants = listOption(values.tenants, '--tenants');
  const concurrency = positiveInteger(values.concurrency, '--concurrency', 4);

  return withCore(
    async (core) => {
      if (tenant === 'public') {
        printRun(
          await core.publicRunner.upgrade(publicTarget(core), { to: revision, dryRun }),
          json,
          'upgrade',
        );
        return EXIT.OK;
      }
      if (tenant !== undefined) {
        await core.migratePublic();
        printRun(await upgradeTenant(core, tenant, { to: revision, dryRun }), json, 'upgrade');
        return EXIT.OK;
      }
      // --all: the public schema first, then every tenant.
      await assertRegistered(core, tenants, '--tenants');
      const publicResult = await core.publicRunner.upgrade(publicTarget(core), { dryRun });
      if (!json) printRun(publicResult, false, 'upgrade');
      if (values.host && !core.hosts.has(values.host))
        throw new CliError(`unknown host "${values.host}"`, EXIT.USAGE);
      if (values.background) {
        core.tenantRunner.set.resolve(revision);
        return enqueueFleetJob(
          core,
          {
            target: revision,
            dry_run: dryRun,
            concurrency,
            tenants,
            only_failed: values['only-failed'],
            host: values.host,
          },
          { canary: values.canary, maxFailures: values['max-failures'], json },
        );
      }
      const report = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, {
        target: revision,
        dryRun,
        concurrency,
        tenants,
        onlyFailed: values['only-failed'],
        host: values.host,
        onProgress: json ? undefined : progressBar,
      });
      printFleet(report, json);
      return report.failed > 0 ? EXIT.FAILED : EXIT.OK;
    },
    { migratePublic: false },
  );
}

async function downgrade(rawArgv: string[]): Promise<number> {
  const { argv, relative } = splitRelativeSteps(rawArgv);
  const { values, positionals } = parseOptions(argv, {
    ...COMMON,
    'dry-run': { type: 'boolean' },
    confirm: { type: 'string' },
    tenants: { type: 'string' },
    host: { type: 'string' },
    concurrency: { type: 'string' },
  });
  if (values.help) return helpAndExit();
  const target = relative ?? onePositional(positionals, 'target (-N, a revision or base)');
  if (relative !== undefined && positionals.length > 0) {
    throw new CliError(`unexpected argument ${positionals.join(' ')}`, EXIT.USAGE);
  }
  if (values.all && values.tenant) throw new CliError('use either --tenant or --all, not both', EXIT.USAGE);
  if (!values.all && (values.tenants || values.host || values.concurrency)) {
    throw new CliError('--tenants, --host and --concurrency go with --all', EXIT.USAGE);
  }
  const tenant = values.all ? undefined : tenantOption(values.tenant, true);
  const tenants = listOption(values.tenants, '--tenants');
  const confirm = values.confirm === undefined ? [] : confirmOption(values.confirm);
  const concurrency = positiveInteger(values.concurrency, '--concurrency', 4);
  const dryRun = values['dry-run'] ?? false;
  let options: { steps?: number; to?: string; dryRun: boolean };
  if (/^-\d+$/.test(target)) {
    const steps = Number(target.slice(1));
    if (steps < 1) throw new CliError(`"${target}" downgrades nothing: use -1 or more`, EXIT.USAGE);
    options = { steps, dryRun };
  } else {
    options = { to: target, dryRun };
  }
  if (tenant !== undefined && confirm.some((id) => id !== tenant)) {
    throw new CliError(`--confirm names ${confirm.join(', ')} but the downgrade is of ${tenant}`, EXIT.USAGE);
  }
  return withCore(
    async (core) => {
      if (tenant === undefined) {
        await assertRegistered(core, tenants, '--tenants');
        await assertRegistered(core, confirm, '--confirm');
        if (values.host && !core.hosts.has(values.host))
          throw new CliError(`unknown host "${values.host}"`, EXIT.USAGE);
        const report = await downgradeFleet(core.hosts, core.registry, core.tenantRunner, {
          ...options,
          tenants,
          host: values.host,
          confirm,
          concurrency,
        });
        printFleetDowngrade(report, values.json ?? false);
        return report.failed > 0 || report.refused > 0 ? EXIT.FAILED : EXIT.OK;
      }
      const allowDataLoss = confirm.includes(tenant);
      const result =
        tenant === 'public'
          ? await core.publicRunner.downgrade(publicTarget(core), { ...options, allowDataLoss })
          : await downgradeTenant(core, tenant, { ...options, allowDataLoss });
      printRun(result, values.json ?? false, 'downgrade');
      return EXIT.OK;
    },
    { migratePublic: tenant !== 'public' },
  );
}

/** `--confirm a,b`: the ids (a tenant, or `public`) whose downgrade may drop data. */
function confirmOption(value: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new CliError('--confirm needs the id of the schema being downgraded', EXIT.USAGE);
  for (const item of items) tenantOption(item, true);
  return items;
}

/** Every id must be a registered tenant (`public` passes, for --confirm): exit 2 naming the others. */
async function assertRegistered(core: Core, ids: string[] | undefined, option: string): Promise<void> {
  const wanted = (ids ?? []).filter((id) => id !== 'public');
  if (wanted.length === 0) return;
  const known = new Set((await core.registry.list({ tenants: wanted })).map((row) => row.tenant_id));
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new CliError(
      `${option}: no tenant ${unknown.map((id) => JSON.stringify(id)).join(', ')} (see: tenantry tenants list)`,
      EXIT.USAGE,
    );
  }
}

async function currentOrCheck(argv: string[], mode: 'current' | 'check'): Promise<number> {
  const { values, positionals } = parseOptions(argv, { ...COMMON, public: { type: 'boolean' } }, false);
  if (values.help) return helpAndExit();
  if (positionals.length) throw new CliError(`unexpected argument ${positionals.join(' ')}`, EXIT.USAGE);
  if ([values.all, values.tenant !== undefined, values.public].filter(Boolean).length > 1)
    throw new CliError('use one of --tenant, --public or --all (the default)', EXIT.USAGE);
  const tenant = tenantOption(values.tenant, false);
  const scope: StatusScope =
    values.public || tenant === 'public'
      ? { only: 'public' }
      : tenant !== undefined
        ? { only: 'tenant', tenant }
        : { only: 'everything' };
  return withCore(
    async (core) => {
      const lines = await statuses(core, scope);
      const bad = lines.filter(
        (l) =>
          (l.behind !== 0 && !(l.pinned && l.behind !== null)) ||
          l.unknown.length > 0 ||
          l.migration_status === 'failed' ||
          l.drifted.length > 0 ||
          Boolean(l.error),
      );
      // Schemas without a registry row (src/tenancy/orphans.ts) fail the check.
      const orphans = mode === 'check' ? await listOrphanSchemas(core.hosts, core.registry) : [];
      if (values.json) {
        const ok = bad.length === 0 && orphans.length === 0;
        print(JSON.stringify(mode === 'check' ? { ok, schemas: lines, orphans } : lines, null, 2));
      } else {
        const rows = (mode === 'check' ? bad : lines).map((l) => [
          l.schema,
          l.host,
          l.current ?? 'base',
          l.head ?? 'base',
          l.behind ?? (l.unknown.length > 0 ? 'ahead' : '?'),
          l.migration_status ?? '-',
          [
            l.pinned ? 'pinned (downgraded; upgrade it explicitly)' : '',
            ...l.unknown.map((u) => `unknown ${u} (database newer than the code)`),
            ...l.drifted.map((d) => `checksum changed ${d}`),
            l.error ?? '',
          ]
            .filter(Boolean)
            .join('; ') || null,
        ]);
        if (rows.length)
          print(table(['schema', 'host', 'current', 'head', 'behind', 'status', 'notes'], rows));
        if (mode === 'check') {
          for (const o of orphans) print(`orphan schema ${o.schema} on host ${o.host}: no registry row`);
          print(
            bad.length === 0 && orphans.length === 0
              ? `ok: ${lines.length} schema(s) at head${pinnedNote(lines)}`
              : `${bad.length} of ${lines.length} schema(s) need attention; ${orphans.length} orphan schema(s)`,
          );
        }
      }
      if (lines.some((l) => l.unknown.length > 0) && mode === 'current') return EXIT.DATABASE_AHEAD;
      return mode === 'check' && (bad.length > 0 || orphans.length > 0) ? EXIT.FAILED : EXIT.OK;
    },
    { migratePublic: false },
  );
}

/** A pinned tenant behind head is a decision, not a failure: counted apart. */
function pinnedNote(lines: StatusLine[]): string {
  const pinned = lines.filter((l) => l.pinned && l.behind !== 0).length;
  return pinned > 0 ? ` or pinned by a downgrade (${pinned})` : '';
}

async function history(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, COMMON, false);
  if (values.help) return helpAndExit();
  if (positionals.length) throw new CliError(`unexpected argument ${positionals.join(' ')}`, EXIT.USAGE);
  const tenant = tenantOption(values.tenant, false);
  return withCore(
    async (core) => {
      const runner = tenant === 'public' ? core.publicRunner : core.tenantRunner;
      let rows: Array<{
        revision: string;
        name: string;
        description: string;
        applied_at: Date | null;
        duration_ms: number | null;
      }>;
      if (tenant === undefined) {
        rows = runner.set.migrations.map((m) => ({ ...m, applied_at: null, duration_ms: null }));
      } else {
        const target =
          tenant === 'public'
            ? publicTarget(core)
            : await findTenantOrThrow(core, tenant).then((t) => ({
                host: t.host,
                db: core.hosts.db(t.host),
                schema: t.tenant_id,
              }));
        rows = (await runner.history(target)).map((m) => ({
          ...m,
          applied_at: m.applied?.applied_at ?? null,
          duration_ms: m.applied?.duration_ms ?? null,
        }));
      }
      if (values.json) {
        print(
          JSON.stringify(
            rows.map(({ revision, name, description, applied_at, duration_ms }) => ({
              revision,
              name,
              description,
              applied_at,
              duration_ms,
            })),
            null,
            2,
          ),
        );
      } else {
        print(
          table(
            ['revision', 'name', 'description', 'applied at', 'ms'],
            rows.map((r) => [
              r.revision,
              r.name,
              r.description,
              r.applied_at ? r.applied_at.toISOString() : null,
              r.duration_ms,
            ]),
          ),
        );
      }
      return EXIT.OK;
    },
    { migratePublic: tenant !== undefined && tenant !== 'public' },
  );
}

async function stamp(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, COMMON);
  if (values.help) return helpAndExit();
  const revision = onePositional(positionals, 'revision (head, base or a revision id)');
  const tenant = tenantOption(values.tenant, true)!;
  return withCore(
    async (core) => {
      if (tenant === 'public') {
        const result = await core.publicRunner.stamp(publicTarget(core), revision);
        print(`public: stamped ${result.from ?? 'base'} → ${result.to ?? 'base'} (nothing was run)`);
        return EXIT.OK;
      }
      const row = await findTenantOrThrow(core, tenant);
      const result = await core.tenantRunner.stamp(
        { host: row.host, db: core.hosts.db(row.host), schema: row.tenant_id },
        revision,
      );
      await core.registry.recordMigration(row.tenant_id, { revision: result.to, status: 'ok', error: null });
      print(`${tenant}: stamped ${result.from ?? 'base'} → ${result.to ?? 'base'} (nothing was run)`);
      return EXIT.OK;
    },
    { migratePublic: tenant !== 'public' },
  );
}

async function drift(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    argv,
    { ...COMMON, tenants: { type: 'string' }, host: { type: 'string' } },
    false,
  );
  if (values.help) return helpAndExit();
  if (positionals.length) throw new CliError(`unexpected argument ${positionals.join(' ')}`, EXIT.USAGE);
  const tenants = listOption(values.tenants, '--tenants');
  return withCore(async (core) => {
    // A misspelt host would otherwise check no tenant and pass the gate (exit 0).
    if (values.host && !core.hosts.has(values.host))
      throw new CliError(`unknown host "${values.host}"`, EXIT.USAGE);
    await assertRegistered(core, tenants, '--tenants');
    const report = await detectDrift(core.hosts, core.registry, core.tenantRunner, {
      tenants,
      host: values.host,
    });
    const orphans = await listOrphanSchemas(core.hosts, core.registry, { host: values.host });
    if (values.json) {
      print(JSON.stringify({ ...report, orphans }, null, 2));
    } else {
      for (const o of orphans) print(`orphan schema ${o.schema} on host ${o.host}: no registry row`);
      for (const entry of report.tenants.filter((e) => e.missing.length || e.unexpected.length)) {
        print(`${entry.tenant_id} (${entry.host}):`);
        for (const line of entry.missing) print(`  - missing:    ${line}`);
        for (const line of entry.unexpected) print(`  + unexpected: ${line}`);
      }
      print(
        `checked ${report.checked} tenant(s); ${report.drifted} drifted from the reference schema at head`,
      );
    }
    return report.drifted > 0 || orphans.length > 0 ? EXIT.FAILED : EXIT.OK;
  });
}

async function revision(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    argv,
    {
      message: { type: 'string', short: 'm' },
      public: { type: 'boolean' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) return helpAndExit();
  if (positionals.length) throw new CliError(`unexpected argument ${positionals.join(' ')}`, EXIT.USAGE);
  if (!values.message?.trim())
    throw new CliError('-m "message" is required (what the revision does)', EXIT.USAGE);
  const written = await writeRevisionFile(values.public ? 'public' : 'tenant', values.message, values.dir);
  print(`Generating ${written.path} ... done`);
  return EXIT.OK;
}

function helpAndExit(): number {
  print(HELP);
  return EXIT.OK;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  upgrade,
  downgrade,
  current: (argv) => currentOrCheck(argv, 'current'),
  check: (argv) => currentOrCheck(argv, 'check'),
  history,
  stamp,
  drift,
  revision,
};

/** Maps the runner's and the registry's errors to messages and exit codes. */
function translate(error: unknown): never {
  if (error instanceof UnknownRevisionError) throw new CliError(error.message, EXIT.DATABASE_AHEAD);
  if (error instanceof MigrationSetError || error instanceof RunnerInputError)
    throw new CliError(error.message, EXIT.USAGE);
  if (error instanceof TenantNotFoundError)
    throw new CliError(`${error.message} (see: tenantry tenants list)`, EXIT.USAGE);
  if (error instanceof MigrationFailedError)
    throw new CliError(`${error.message}\nnothing was changed`, EXIT.FAILED);
  if (error instanceof DataLossError)
    throw new CliError(`${error.message}; to go ahead: --confirm ${error.schema}`, EXIT.FAILED);
  if (error instanceof SchemaExistsError) throw new CliError(error.message, EXIT.FAILED);
  throw error;
}

export const dbCommands: CommandGroup = {
  async run(argv) {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      print(HELP);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const handler = COMMANDS[command];
    if (!handler) throw unknownName('db command', command, Object.keys(COMMANDS), HELP);
    try {
      return await handler(rest);
    } catch (error) {
      return translate(error);
    }
  },
};
