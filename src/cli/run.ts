/**
 * The `tenantry` dispatcher, free of process side effects so tests can run commands in-process:
 * `db` (migrations), `tenants`, `backup`, `jobs`, `hosts`. Each group lives in its own module and returns an exit code.
 */
import { VERSION } from '../version.ts';
import { type CommandGroup, EXIT, printError, setDebug, unknownName } from './io.ts';

const GROUPS: Record<string, () => Promise<CommandGroup>> = {
  db: async () => (await import('./db.ts')).dbCommands,
  tenants: async () => (await import('./tenants.ts')).tenantCommands,
  backup: async () => (await import('./backup.ts')).backupCommands,
  jobs: async () => (await import('./jobs.ts')).jobCommands,
  hosts: async () => (await import('./hosts.ts')).hostCommands,
};

const USAGE = `Usage: tenantry <group> <command> [options]

Groups:
  db        migrations: upgrade, downgrade, current, history, check, stamp, drift, revision
  tenants   tenants: create, list, show, delete
  backup    backups: --action list_dbs|backup|list|restore (the predecessor's manage_postgres_db.py)
  jobs      background jobs: list, show, retry, cancel
  hosts     database hosts: list (tenants, size, connections, host revision, reachability)

Run "tenantry <group> --help" for a group's commands and options.
  --version   print the version
  --debug     print the stack trace of an unexpected error
`;

/** Runs one command line; every failure is printed and turned into an exit code. */
export async function runTenantry(argv: string[]): Promise<number> {
  // --debug may stand anywhere; every other word belongs to the group.
  const words = argv.filter((word) => word !== '--debug');
  setDebug(words.length !== argv.length || Boolean(process.env.TENANTRY_DEBUG));
  try {
    const [group, ...rest] = words;
    if (group === '--version' || group === '-V' || group === 'version') {
      process.stdout.write(`tenantry ${VERSION}\n`);
      return EXIT.OK;
    }
    if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
      process.stdout.write(USAGE);
      return group === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const load = GROUPS[group];
    if (!load) throw unknownName('command group', group, Object.keys(GROUPS), USAGE);
    return await (await load()).run(rest);
  } catch (error) {
    return printError(error);
  }
}
