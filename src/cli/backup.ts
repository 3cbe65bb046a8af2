/**
 * `tenantry backup` — the predecessor's manage_postgres_db.py, with the same flags (SPEC 8):
 *
 *   tenantry backup --configfile sample.config --action list_dbs|backup|list|restore|prune
 *     [--date YYYY-MM-DD] [--file NAME] [--dest-db NAME] [--tenant ID] [--dest-schema NAME] [--register]
 *     [--keep N] [--verbose]
 *
 * Thin: parse flags, load the config, then call src/backup/*. Every failure is one message on stderr and
 * a non-zero exit code (2 for bad flags or configuration, 1 for everything else).
 */

import { createBackup } from '../backup/backup.ts';
import { listBackups, pruneBackups } from '../backup/catalog.ts';
import { BackupConfigError, loadBackupConfig, postgresUrl } from '../backup/config.ts';
import { databaseOf, describeServer } from '../backup/connection.ts';
import type { BackupContext } from '../backup/context.ts';
import { BackupError } from '../backup/errors.ts';
import { listDatabases } from '../backup/list-databases.ts';
import { safeDatabaseName, utcDay } from '../backup/naming.ts';
import { restoreBackup, validateRestoreOptions } from '../backup/restore.ts';
import { openStorage } from '../backup/storage/open.ts';
import { environmentWithDotenv, loadConfig } from '../config.ts';
import { openDefaultDatabase } from '../db/default-database.ts';
import { tenantIdProblem } from '../tenancy/tenant-id.ts';
import { CliError, type CommandGroup, closest, EXIT, parseOptions, print, table } from './io.ts';

const ACTIONS = ['list_dbs', 'backup', 'list', 'restore', 'prune'] as const;
type Action = (typeof ACTIONS)[number];

const USAGE = `Usage: tenantry backup --action ACTION [options]

Actions:
  list_dbs   databases on the server
  backup     pg_dump -Fc of the database (or --tenant ID: that tenant's schema), with checksum and manifest
  list       stored backups, newest first (--tenant ID: only that tenant's)
  restore    the newest backup of --date YYYY-MM-DD (UTC), or --file NAME; checksum verified first.
             Whole database: into a temporary database, verified, then swapped in by rename
             (or into a new database with --dest-db NAME). Tenant backup: swapped into the tenant's
             schema, or copied to --dest-schema NAME (--register adds it to public.tenants).
  prune      keep the newest --keep N backups of the database (or of --tenant ID), delete older ones

Options:
  --configfile FILE   INI file: [setup] storage_engine, [local_storage] path, [S3] …, [postgresql] …
                      (see sample.config; environment variables override it, docs/backup.md)
  --keep N            with backup/prune: keep the newest N backups of the same database/tenant
  --verbose           progress and pg_dump/pg_restore output on stderr
`;

const OPTIONS = {
  configfile: { type: 'string' },
  action: { type: 'string' },
  date: { type: 'string' },
  file: { type: 'string' },
  'dest-db': { type: 'string' },
  tenant: { type: 'string' },
  'dest-schema': { type: 'string' },
  register: { type: 'boolean' },
  keep: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function didYouMean(name: string, known: readonly string[]): string {
  const suggestion = closest(name, known);
  return suggestion ? ` (did you mean "${suggestion}"?)` : '';
}

export const backupCommands: CommandGroup = {
  async run(argv) {
    const { values, positionals } = parseOptions(argv, OPTIONS);
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT.OK;
    }
    // The predecessor took `--verbose true`; accept that spelling, nothing else loose.
    const stray = positionals.filter((word) => word !== 'true');
    if (stray.length > 0) throw new CliError(`unexpected argument "${stray[0]}"\n\n${USAGE}`, EXIT.USAGE);
    const action = values.action as Action | undefined;
    if (action === undefined || !ACTIONS.includes(action)) {
      throw new CliError(
        `${action === undefined ? '--action is required' : `unknown --action "${action}"${didYouMean(action, ACTIONS)}`}: expected one of ${ACTIONS.join(', ')}\n\n${USAGE}`,
        EXIT.USAGE,
      );
    }
    const keep = parseKeep(values.keep, action);
    if (values.tenant !== undefined && tenantIdProblem(values.tenant)) {
      throw new CliError(`--tenant: ${tenantIdProblem(values.tenant)}`, EXIT.USAGE);
    }
    if (action === 'restore') {
      // Before any database is opened (without a config that may mean starting the embedded server).
      try {
        validateRestoreOptions({
          date: values.date,
          file: values.file,
          destDb: values['dest-db'],
          destSchema: values['dest-schema'],
          register: values.register ?? false,
        });
      } catch (error) {
        if (error instanceof BackupError) throw new CliError(error.message, EXIT.USAGE);
        throw error;
      }
    }
    const verbose = values.verbose ?? false;
    const log = (message: string) => {
      if (verbose) process.stderr.write(`tenantry: ${message}\n`);
    };

    const env = environmentWithDotenv();
    const appConfig = loadConfig(env);
    let backupConfig: Awaited<ReturnType<typeof loadBackupConfig>>;
    try {
      backupConfig = await loadBackupConfig(values.configfile, env, appConfig.dataDir);
    } catch (error) {
      if (error instanceof BackupConfigError)
        throw new CliError(`backup config: ${error.message}`, EXIT.USAGE);
      throw error;
    }
    const database = backupConfig.postgres
      ? { url: postgresUrl(backupConfig.postgres), stop: async () => {} }
      : await openDefaultDatabase(appConfig, (message) => process.stderr.write(`tenantry: ${message}\n`));
    try {
      const context: BackupContext = {
        url: database.url,
        storage: await openStorage(backupConfig.storage),
        pgBinDir: backupConfig.pgBinDir,
        verbose,
        log,
      };
      log(
        `database ${databaseOf(context.url)} on ${describeServer(context.url)}; storage ${context.storage.description}`,
      );
      return await runAction(action, context, { ...values, keep });
    } catch (error) {
      if (error instanceof BackupError) {
        throw new CliError(error.message, error.kind === 'usage' ? EXIT.USAGE : EXIT.FAILED);
      }
      throw error;
    } finally {
      await database.stop();
    }
  },
};

function parseKeep(raw: string | undefined, action: Action): number | undefined {
  if (raw === undefined) {
    if (action === 'prune') throw new CliError('prune needs --keep N', EXIT.USAGE);
    return undefined;
  }
  if (action !== 'backup' && action !== 'prune') {
    throw new CliError('--keep applies to --action backup and --action prune', EXIT.USAGE);
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new CliError(`--keep ${JSON.stringify(raw)}: expected a whole number of at least 1`, EXIT.USAGE);
  }
  return Number(raw);
}

interface ActionValues {
  date?: string;
  file?: string;
  'dest-db'?: string;
  tenant?: string;
  'dest-schema'?: string;
  register?: boolean;
  keep: number | undefined;
}

async function runAction(action: Action, context: BackupContext, values: ActionValues): Promise<number> {
  switch (action) {
    case 'list_dbs': {
      const rows = await listDatabases(context.url);
      print(
        table(
          ['database', 'size', 'owner', 'encoding'],
          rows.map((r) => [r.name, humanSize(r.sizeBytes), r.owner, r.encoding]),
        ),
      );
      return EXIT.OK;
    }
    case 'backup': {
      const { manifest, pruned } = await createBackup(context, { tenant: values.tenant, keep: values.keep });
      const parts = manifest.parts ?? [];
      const size = manifest.sizeBytes + parts.reduce((total, part) => total + part.sizeBytes, 0);
      print(
        `stored ${manifest.object}${parts.length ? ` and ${plural(parts.length, 'part')}` : ''} in ${context.storage.description}: ${humanSize(size)}, ` +
          `${plural(manifest.tables.length, 'table')}, ${plural(manifest.tenants.length, 'tenant')}, ${manifest.durationMs} ms, sha256 ${manifest.sha256}`,
      );
      for (const object of pruned) print(`pruned ${object}`);
      return EXIT.OK;
    }
    case 'list': {
      const entries = (await listBackups(context.storage)).filter(
        (entry) => values.tenant === undefined || entry.tenant === values.tenant,
      );
      if (entries.length === 0) {
        print(`no backups in ${context.storage.description}`);
        return EXIT.OK;
      }
      print(
        table(
          ['backup', 'kind', 'tenant', 'size', 'created (UTC)', 'checksum'],
          entries.map((entry) => [
            entry.object,
            entry.kind,
            entry.tenant ?? null,
            humanSize(entry.sizeBytes),
            `${utcDay(entry.createdAt)} ${entry.createdAt.toISOString().slice(11, 19)}`,
            entry.hasChecksum ? 'yes' : 'MISSING',
          ]),
        ),
      );
      return EXIT.OK;
    }
    case 'restore': {
      const result = await restoreBackup(context, {
        date: values.date,
        file: values.file,
        destDb: values['dest-db'],
        tenant: values.tenant,
        destSchema: values['dest-schema'],
        register: values.register ?? false,
      });
      print(`restored ${result.object} into ${result.target}${result.replaced ? ' (replaced)' : ''}`);
      return EXIT.OK;
    }
    case 'prune': {
      await context.storage.check();
      const pruned = await pruneBackups(
        context.storage,
        { database: safeDatabaseName(databaseOf(context.url)), tenant: values.tenant },
        values.keep!,
      );
      print(pruned.length === 0 ? 'nothing to prune' : pruned.map((object) => `pruned ${object}`).join('\n'));
      return EXIT.OK;
    }
  }
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
