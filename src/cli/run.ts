/**
 * The `tenantry` dispatcher, free of process side effects so tests can run commands in-process:
 * `db` (migrations), `tenants`, `backup`, `jobs`. Each group lives in its own module and returns an exit code.
 */
import { CliError, type CommandGroup, EXIT, printError } from './io.ts';

const GROUPS: Record<string, () => Promise<CommandGroup>> = {
  db: async () => (await import('./db.ts')).dbCommands,
  tenants: async () => (await import('./tenants.ts')).tenantCommands,
  backup: async () => (await import('./backup.ts')).backupCommands,
  jobs: async () => (await import('./jobs.ts')).jobCommands,
};

const USAGE = `Usage: tenantry <group> <command> [options]

Groups:
  db        migrations: upgrade, downgrade, current, history, check, stamp, drift, revision
  tenants   tenants: create, list, show, delete
  backup    backups: --action list_dbs|backup|list|restore (the predecessor's manage_postgres_db.py)
  jobs      background jobs: list, show, retry, cancel

Run "tenantry <group> --help" for a group's commands and options.
`;

/** Runs one command line; every failure is printed and turned into an exit code. */
export async function runTenantry(argv: string[]): Promise<number> {
  try {
    const [group, ...rest] = argv;
    if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
      process.stdout.write(USAGE);
      return group === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const load = GROUPS[group];
    if (!load) throw new CliError(`unknown command group "${group}"\n\n${USAGE}`, EXIT.USAGE);
    return await (await load()).run(rest);
  } catch (error) {
    return printError(error);
  }
}
