/**
 * `--action restore`: pick the backup (newest of --date, or --file), prove it intact, then restore it as a
 * database (restore-database.ts) or as a tenant schema (restore-tenant.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listBackups, selectBackup } from './catalog.ts';
import {
  databaseOf,
  maintenanceDatabase,
  serverMajorVersion,
  withClient,
  withDatabase,
} from './connection.ts';
import type { BackupContext } from './context.ts';
import { BackupError } from './errors.ts';
import { fetchVerifiedBackup } from './fetch.ts';
import { safeDatabaseName } from './naming.ts';
import { findTools } from './pg-tools.ts';
import { assertDatabaseName, restoreDatabase } from './restore-database.ts';
import { restoreTenant } from './restore-tenant.ts';

export interface RestoreOptions {
  date?: string;
  file?: string;
  /** Restore into this new database instead of replacing the live one. */
  destDb?: string;
  tenant?: string;
  /** Tenant backups: restore as a copy under this schema name. */
  destSchema?: string;
  /** Register the restored tenant (copy or missing) in public.tenants. */
  register: boolean;
}

export interface RestoreResult {
  object: string;
  /** What was written: `database X`, `tenant schema Y`. */
  target: string;
  replaced: boolean;
}

export function validateRestoreOptions(options: RestoreOptions): void {
  const usage = (message: string) => new BackupError(message, 'usage');
  if ((options.date === undefined) === (options.file === undefined)) {
    throw usage('restore needs exactly one of --date YYYY-MM-DD (newest backup of that day) or --file NAME');
  }
  if (options.date !== undefined) {
    const valid =
      /^\d{4}-\d{2}-\d{2}$/.test(options.date) && !Number.isNaN(Date.parse(`${options.date}T00:00:00Z`));
    if (!valid) throw usage(`--date ${JSON.stringify(options.date)}: expected YYYY-MM-DD`);
  }
  if (options.destDb !== undefined) assertDatabaseName(options.destDb, '--dest-db');
  if (options.register && options.destSchema === undefined && options.destDb === undefined) {
    // --register names the schema it registers: a copy under a new name, or a deleted tenant brought back
    // under its own id (--dest-schema <its id>). Alone it would be a guess about which one was meant.
    throw usage(
      '--register needs --dest-schema NAME: it registers the restored schema under that name (to bring back a tenant missing from the registry under its own id: --dest-schema <id> --register)',
    );
  }
  if (options.destDb !== undefined && (options.destSchema !== undefined || options.register)) {
    throw usage(
      '--dest-db restores a whole new database; it cannot be combined with --dest-schema or --register',
    );
  }
}

export async function restoreBackup(context: BackupContext, options: RestoreOptions): Promise<RestoreResult> {
  validateRestoreOptions(options);
  const live = databaseOf(context.url);
  // The server first (bad credentials are reported as such), through the maintenance database so this
  // works even when the live database is gone (restore recreates it).
  const server = await withClient(withDatabase(context.url, maintenanceDatabase(live)), serverMajorVersion);
  const tools = await findTools(['pg_restore', 'psql'], server.major, context.pgBinDir);
  const entry = selectBackup(await listBackups(context.storage), {
    file: options.file,
    date: options.date,
    database: safeDatabaseName(live),
    tenant: options.tenant,
  });
  if (entry.kind === 'database' && (options.destSchema !== undefined || options.register)) {
    throw new BackupError(
      `${entry.object} is a whole-database backup: --dest-schema/--register apply to tenant backups`,
      'usage',
    );
  }
  context.log(`selected ${entry.object}`);
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-restore-'));
  try {
    const archive = await fetchVerifiedBackup(context.storage, entry, folder, tools.pg_restore, context.log);
    if (entry.kind === 'database' || options.destDb !== undefined) {
      const result = await restoreDatabase(context, archive, tools.pg_restore, options.destDb);
      return { object: entry.object, target: `database ${result.database}`, replaced: result.replaced };
    }
    const result = await restoreTenant(context, archive, tools, {
      destSchema: options.destSchema,
      register: options.register,
    });
    return {
      object: entry.object,
      target: `tenant schema ${result.schema}${result.registered ? ' (registered in public.tenants)' : ''}`,
      replaced: options.destSchema === undefined,
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
