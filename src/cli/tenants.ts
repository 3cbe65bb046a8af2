/**
 * `tenantry tenants …` — tenant lifecycle from the shell, with the control center's rules (SPEC 5.4, 6):
 *
 *   GET /create?name=a&schema=a&host=a  →  tenantry tenants create --name a --schema a --domain a
 *                                           [--db-host h]   (the predecessor's host= is the tenant's domain)
 *
 * Creation is one transaction on the tenant's host (schema + every migration + registry row): a process
 * killed half-way leaves nothing. Exit codes: 0 ok, 1 failed (exists), 2 bad arguments or no such tenant.
 */
import type { Core } from '../core.ts';
import { UnknownHostError } from '../db/hosts.ts';
import { MigrationFailedError } from '../migrations/runner.ts';
import { DomainTakenError } from '../tenancy/domains.ts';
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
import { DOMAINS_HELP, domainArgument, domainsCommand } from './tenant-domains.ts';

const HELP: Record<string, string> = {
  group: `Usage: tenantry tenants <command> [options]

Commands:
  create --name <company> [--schema <id>] [--domain <d>]… [--db-host <host>] [--json]
                                         create a tenant migrated to head
  list   [--json]                        every tenant with its revision and domains
  show   <id> [--json]                   one tenant with migration history
  delete <id> --confirm <id>             drop the schema and registry rows
  domains add|remove|list <id> [<d>]     the Host names routed to a tenant

Run "tenantry tenants <command> --help" for details.
Exit codes: 0 ok, 1 failed (exists, migration failed), 2 bad arguments or no such tenant.
`,
  create: `Usage: tenantry tenants create --name <company> [--schema <id>] [--domain <d>]… [--db-host <host>] [--json]

  --name     company name (required)
  --schema   tenant id = schema name, ^[a-z][a-z0-9_]{0,62}$; derived from --name when omitted
             (transliterated, lowercased, at most 28 characters + "_" + 12 random hex)
  --domain   a Host name routed to the tenant (repeatable; see "tenants domains --help");
             created with the tenant, atomically
  --db-host  database host from TENANT_DATABASE_URLS (default: default)
  --host     deprecated spelling of --db-host (kept for one release; prints a warning)
  --json     print the new tenant as JSON
`,
  list: `Usage: tenantry tenants list [--json]

Lists every tenant: id, name, host, status, revision, revisions behind head, migration status.
`,
  show: `Usage: tenantry tenants show <id> [--json]

Shows one tenant and its migration history (read from the tenant's own schema_migrations).
`,
  domains: DOMAINS_HELP,
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

function summary(core: Core, row: TenantRow, domains: string[]) {
  return {
    tenant_id: row.tenant_id,
    name: row.name,
    host: row.host,
    domains,
    status: row.status,
    revision: row.revision,
    head: core.tenantRunner.set.head,
    behind: revisionsBehind(core.tenantRunner.set, row.revision),
    migration_status: row.migration_status,
    migration_error: row.migration_error,
    pinned: row.pinned_at !== null,
    created_at: row.created_at.toISOString(),
  };
}

/** Domain errors → messages and exit codes scripts can rely on. */
function cliErrorOf(error: unknown): unknown {
  if (error instanceof TenantExistsError || error instanceof DomainTakenError)
    return new CliError(error.message, EXIT.FAILED);
  if (error instanceof TenantNotFoundError) return new CliError(error.message, EXIT.USAGE);
  if (error instanceof UnknownHostError)
    return new CliError(`${error.message} (configure it in TENANT_DATABASE_URLS)`, EXIT.USAGE);
  if (error instanceof MigrationFailedError) return new CliError(error.message, EXIT.FAILED);
  return error;
}

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    name: { type: 'string' },
    schema: { type: 'string' },
    domain: { type: 'string', multiple: true },
    'db-host': { type: 'string' },
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
  if (values.host !== undefined) {
    if (values['db-host'] !== undefined)
      throw new CliError('give --db-host only (--host is its deprecated spelling)', EXIT.USAGE);
    process.stderr.write(
      "tenantry: --host is deprecated and will be removed in the next release: use --db-host for the database host (--domain for the tenant's domain)\n",
    );
  }
  const dbHost = values['db-host'] ?? values.host;
  return withCore(async (core) => {
    const domains = [...new Set((values.domain ?? []).map((d) => domainArgument(core, d)))];
    const created = await core.tenants
      .create({ name, tenantId: schema, host: dbHost, domains })
      .catch((error: unknown) => {
        throw cliErrorOf(error);
      });
    const { tenant, migration } = created;
    if (values.json) {
      print(
        JSON.stringify(
          { ...summary(core, tenant, domains.sort()), applied: migration.steps.map((s) => s.revision) },
          null,
          2,
        ),
      );
      return EXIT.OK;
    }
    print(`created tenant ${tenant.tenant_id} (${tenant.name}) on host ${tenant.host}`);
    if (domains.length > 0) print(`  domains: ${domains.sort().join(', ')}`);
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
    const registryRows = await core.registry.list();
    const domains = await core.domains.domainsOf(registryRows.map((row) => row.tenant_id));
    const rows = registryRows.map((row) => summary(core, row, domains.get(row.tenant_id) ?? []));
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
        ['TENANT', 'NAME', 'HOST', 'STATUS', 'REVISION', 'BEHIND', 'MIGRATION', 'DOMAINS'],
        rows.map((r) => [
          r.tenant_id,
          r.name,
          r.host,
          r.status,
          r.revision,
          r.behind,
          r.pinned ? `${r.migration_status}, pinned` : r.migration_status,
          r.domains.join(',') || '-',
        ]),
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
    const domains = (await core.domains.domainsOf([row.tenant_id])).get(row.tenant_id) ?? [];
    const view = {
      ...summary(core, row, domains),
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
      if (key === 'domains') print(`${'domains:'.padEnd(18)}${domains.join(', ') || '-'}`);
      else if (key !== 'history') print(`${`${key}:`.padEnd(18)}${value ?? '-'}`);
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

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  create,
  list,
  show,
  delete: remove,
  domains: domainsCommand,
};

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
