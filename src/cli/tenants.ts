/**
 * `tenantry tenants …` — tenant lifecycle from the shell, with the control center's rules (SPEC 5.4, 6):
 *
 *   GET /create?name=a&schema=a&host=a  →  tenantry tenants create --name a [--schema a] [--host h]
 *
 * Creation is one transaction on the tenant's host (schema + every migration + registry row): a process
 * killed half-way leaves nothing. Exit codes: 0 ok, 1 failed (exists, not found), 2 bad arguments.
 */
import type { Core } from '../core.ts';
import { UnknownHostError } from '../db/hosts.ts';
import { MigrationFailedError } from '../migrations/runner.ts';
import type { TenantRow } from '../tenancy/registry.ts';
import { tenantIdProblem } from '../tenancy/tenant-id.ts';
import { findTenantOrThrow } from '../tenancy/tenant-migrations.ts';
import { TenantExistsError, TenantNotFoundError } from '../tenancy/tenant-service.ts';
import { revisionsBehind } from '../tenancy/tenant-upgrader.ts';
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

const HELP: Record<string, string> = {
  group: `Usage: tenantry tenants <command> [options]

Commands:
  create --name <company> [--schema <id>] [--host <host>] [--json]   create a tenant migrated to head
  list   [--json]                                                    every tenant with its revision
  show   <id> [--json]                                               one tenant with migration history
  delete <id> --confirm <id>                                         drop the schema and registry rows

Run "tenantry tenants <command> --help" for details.
Exit codes: 0 ok, 1 failed (exists, not found, migration failed), 2 bad arguments.
`,
  create: `Usage: tenantry tenants create --name <company> [--schema <id>] [--host <host>] [--json]

  --name    company name (required)
  --schema  tenant id = schema name, ^[a-z][a-z0-9_]{0,62}$; derived from --name when omitted
            (transliterated, lowercased, at most 28 characters + "_" + 12 random hex)
  --host    database host from TENANT_DATABASE_URLS (default: default)
  --json    print the new tenant as JSON
`,
  list: `Usage: tenantry tenants list [--json]

Lists every tenant: id, name, host, status, revision, revisions behind head, migration status.
`,
  show: `Usage: tenantry tenants show <id> [--json]

Shows one tenant and its migration history (read from the tenant's own schema_migrations).
`,
  delete: `Usage: tenantry tenants delete <id> --confirm <id>

Drops the tenant's schema (all its data), then its registry and account-directory rows.
--confirm must repeat the id.
`,
};

const help = (command: string) => {
  print(HELP[command]);
  return EXIT.OK;
};

function tenantIdArgument(value: string | undefined, what: string): string {
  if (value === undefined) throw new CliError(`${what} is required`, EXIT.USAGE);
  const problem = tenantIdProblem(value);
  if (problem) throw new CliError(`${what} ${JSON.stringify(value)}: ${problem}`, EXIT.USAGE);
  return value;
}

function onePositional(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new CliError(`tenants ${command} expects exactly one tenant id\n\n${HELP[command]}`, EXIT.USAGE);
  }
  return tenantIdArgument(positionals[0], 'tenant id');
}

function summary(core: Core, row: TenantRow) {
  return {
    tenant_id: row.tenant_id,
    name: row.name,
    host: row.host,
    status: row.status,
    revision: row.revision,
    head: core.tenantRunner.set.head,
    behind: revisionsBehind(core.tenantRunner.set, row.revision),
    migration_status: row.migration_status,
    migration_error: row.migration_error,
    created_at: row.created_at.toISOString(),
  };
}

/** Domain errors → messages and exit codes scripts can rely on. */
function cliErrorOf(error: unknown): unknown {
  if (error instanceof TenantExistsError || error instanceof TenantNotFoundError)
    return new CliError(error.message, EXIT.FAILED);
  if (error instanceof UnknownHostError)
    return new CliError(`${error.message} (configure it in TENANT_DATABASE_URLS)`, EXIT.USAGE);
  if (error instanceof MigrationFailedError) return new CliError(error.message, EXIT.FAILED);
  return error;
}

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    name: { type: 'string' },
    schema: { type: 'string' },
    host: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help('create');
  if (positionals.length > 0)
    throw new CliError(`unexpected argument ${positionals[0]}\n\n${HELP.create}`, EXIT.USAGE);
  const name = values.name?.trim();
  if (!name) throw new CliError(`--name is required\n\n${HELP.create}`, EXIT.USAGE);
  if (name.length > 200) throw new CliError('--name must be at most 200 characters', EXIT.USAGE);
  const schema = values.schema === undefined ? undefined : tenantIdArgument(values.schema, '--schema');
  return withCore(async (core) => {
    const created = await core.tenants
      .create({ name, tenantId: schema, host: values.host })
      .catch((error: unknown) => {
        throw cliErrorOf(error);
      });
    const { tenant, migration } = created;
    if (values.json) {
      print(
        JSON.stringify(
          { ...summary(core, tenant), applied: migration.steps.map((s) => s.revision) },
          null,
          2,
        ),
      );
      return EXIT.OK;
    }
    print(`created tenant ${tenant.tenant_id} (${tenant.name}) on host ${tenant.host}`);
    print(`  migrated to ${tenant.revision ?? 'base'} in ${migration.durationMs} ms:`);
    for (const step of migration.steps) print(`    ${step.revision}  ${step.description}`);
    return EXIT.OK;
  });
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    argv,
    { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    false,
  );
  if (values.help) return help('list');
  return withCore(async (core) => {
    const rows = (await core.registry.list()).map((row) => summary(core, row));
    if (values.json) {
      print(JSON.stringify(rows, null, 2));
      return EXIT.OK;
    }
    if (rows.length === 0) {
      print('no tenants');
      return EXIT.OK;
    }
    print(
      table(
        ['TENANT', 'NAME', 'HOST', 'STATUS', 'REVISION', 'BEHIND', 'MIGRATION'],
        rows.map((r) => [r.tenant_id, r.name, r.host, r.status, r.revision, r.behind, r.migration_status]),
      ),
    );
    print(`\n${rows.length} tenant(s); head ${core.tenantRunner.set.head ?? 'base'}`);
    return EXIT.OK;
  });
}

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help('show');
  const tenantId = onePositional(positionals, 'show');
  return withCore(async (core) => {
    const row = await findTenantOrThrow(core, tenantId).catch((error: unknown) => {
      throw cliErrorOf(error);
    });
    const history = core.hosts.has(row.host)
      ? await core.tenantRunner.history({
          host: row.host,
          db: core.hosts.db(row.host),
          schema: row.tenant_id,
        })
      : [];
    const view = {
      ...summary(core, row),
      history: history.map((entry) => ({
        revision: entry.revision,
        description: entry.description,
        applied_at: entry.applied?.applied_at.toISOString() ?? null,
      })),
    };
    if (values.json) {
      print(JSON.stringify(view, null, 2));
      return EXIT.OK;
    }
    for (const [key, value] of Object.entries(view)) {
      if (key !== 'history') print(`${`${key}:`.padEnd(18)}${value ?? '-'}`);
    }
    print('');
    print(
      table(
        ['REVISION', 'APPLIED', 'DESCRIPTION'],
        view.history.map((h) => [h.revision, h.applied_at ?? 'pending', h.description]),
      ),
    );
    return EXIT.OK;
  });
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    confirm: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help('delete');
  const tenantId = onePositional(positionals, 'delete');
  if (values.confirm !== tenantId) {
    throw new CliError(
      `refusing to delete ${tenantId} (drops its schema and data): repeat the id as --confirm ${tenantId}`,
      EXIT.USAGE,
    );
  }
  return withCore(async (core) => {
    await core.tenants.delete(tenantId).catch((error: unknown) => {
      throw cliErrorOf(error);
    });
    print(`deleted tenant ${tenantId}`);
    return EXIT.OK;
  });
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { create, list, show, delete: remove };

export const tenantCommands: CommandGroup = {
  async run(argv) {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      print(HELP.group);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const handler = COMMANDS[command];
    if (!handler) throw unknownName('tenants command', command, Object.keys(COMMANDS), HELP.group ?? '');
    return handler(rest);
  },
};
