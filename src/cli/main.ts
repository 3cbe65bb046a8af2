#!/usr/bin/env node
/**
 * `tenantry` — the operator CLI (SPEC 5.4, 8): `db` (migrations), `tenants`, `backup`.
 * Run as `npm run tenantry -- <group> <command> [options]`. Each group lives in its own module and
 * returns an exit code; this file only dispatches.
 */
import { CliError, type CommandGroup, EXIT, printError } from './io.ts';

const GROUPS: Record<string, () => Promise<CommandGroup>> = {
  db: async () => (await import('./db.ts')).dbCommands,
  tenants: async () => (await import('./tenants.ts')).tenantCommands,
  backup: async () => (await import('./backup.ts')).backupCommands,
};

const USAGE = `Usage: tenantry <group> <command> [options]

Groups:
  db        migrations: upgrade, downgrade, current, history, check, stamp, drift, revision
  tenants   tenants: create, list, show, delete
  backup    backups: --action list_dbs|backup|list|restore (the predecessor's manage_postgres_db.py)

Run "tenantry <group> --help" for a group's commands and options.
`;

async function main(argv: string[]): Promise<number> {
  const [group, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(USAGE);
    return group === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const load = GROUPS[group];
  if (!load) throw new CliError(`unknown command group "${group}"\n\n${USAGE}`, EXIT.USAGE);
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.exitCode = printError(error);
  },
);
