/**
 * Restoring an archive as a whole database, never through the live one:
 *
 * - `--dest-db NAME`: create NAME (it must not exist), pg_restore into it, verify; on failure drop it.
 * - in place (no --dest-db): create a temporary database beside the live one, pg_restore into it, verify
 *   it against the manifest, and only then swap names in ONE transaction
 *   (ALTER DATABASE live RENAME TO old; ALTER DATABASE temp RENAME TO live), after terminating the live
 *   database's sessions — a rename needs the database idle. Until that commit the live database is not
 *   touched at all, so a failure (or a kill) at any earlier point leaves it exactly as it was; at worst a
 *   `<live>_restore_<hex>` database is left behind to drop. The old database is dropped after the swap.
 *
 * A backup cut into parts (dump-database.ts) is restored main archive first (public: what tenant schemas
 * refer to), then each part in one transaction.
 *
 * Archives are restored with --no-owner --no-acl: every object belongs to the restoring user, which is
 * how Tenantry runs (one role owns the schemas), and an archive never fails on a role missing here.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import {
  connect,
  databaseOf,
  maintenanceDatabase,
  quoteIdent,
  withClient,
  withDatabase,
} from './connection.ts';
import type { BackupContext } from './context.ts';
import { BackupError } from './errors.ts';
import { isOutOfLocks, outOfLocksError, readLockLimits } from './lock-budget.ts';
import type { Manifest } from './manifest.ts';
import { type FoundTool, runTool, toolConnection } from './pg-tools.ts';
import { verifyRestored } from './verify.ts';

/** PostgreSQL's object_in_use: someone connected between terminating sessions and the rename. */
const OBJECT_IN_USE = '55006';
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface DatabaseRestoreResult {
  database: string;
  replaced: boolean;
}

export function assertDatabaseName(name: string, flag: string): string {
  if (!DATABASE_NAME.test(name)) {
    throw new BackupError(
      `${flag} "${name}": use letters, digits and _ (at most 63, not starting with a digit)`,
      'usage',
    );
  }
  return name;
}

export async function restoreDatabase(
  context: BackupContext,
  archive: { file: string; manifest: Manifest; parts: string[] },
  pgRestore: FoundTool,
  destDb: string | undefined,
): Promise<DatabaseRestoreResult> {
  const live = databaseOf(context.url);
  const adminUrl = withDatabase(context.url, maintenanceDatabase(destDb ?? live));
  const admin = await connect(adminUrl);
  try {
    const liveInfo = await databaseInfo(admin, live);
    const suffix = randomBytes(4).toString('hex');
    if (destDb !== undefined || liveInfo === undefined) {
      // A new database (or the live one is gone: recreate it under its own name).
      const target = destDb ?? live;
      if (await databaseInfo(admin, target)) {
        throw new BackupError(
          `database ${target} already exists: --dest-db must name a new database`,
          'usage',
        );
      }
      await createDatabaseLike(admin, target, liveInfo);
      await loadAndVerify(context, archive, pgRestore, target, async () => dropDatabase(admin, target));
      return { database: target, replaced: false };
    }

    const temporary = `${live.slice(0, 40)}_restore_${suffix}`;
    await createDatabaseLike(admin, temporary, liveInfo);
    await loadAndVerify(context, archive, pgRestore, temporary, async () => dropDatabase(admin, temporary));
    const old = `${live.slice(0, 40)}_old_${suffix}`;
    try {
      await swap(admin, live, temporary, old, context.log);
    } catch (error) {
      await dropDatabase(admin, temporary);
      throw error;
    }
    try {
      await admin.query(`DROP DATABASE ${quoteIdent(old)} WITH (FORCE)`);
    } catch (error) {
      context.log(`warning: the previous database is kept as ${old} (drop failed: ${String(error)})`);
    }
    return { database: live, replaced: true };
  } finally {
    await admin.end().catch(() => {});
  }
}

interface DatabaseInfo {
  encoding: string;
  collate: string;
  ctype: string;
  provider: string;
  iculocale: string | null;
  owner: string;
  isCurrentUser: boolean;
}

async function databaseInfo(admin: pg.Client, name: string): Promise<DatabaseInfo | undefined> {
  const { rows } = await admin.query<DatabaseInfo>(
    `SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype,
            -- to_jsonb: these columns exist from PostgreSQL 15 on (daticulocale is datlocale from 17).
            coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') AS provider,
            coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale') AS iculocale,
            pg_get_userbyid(datdba) AS owner, pg_get_userbyid(datdba) = current_user AS "isCurrentUser"
       FROM pg_database d WHERE datname = $1`,
    [name],
  );
  return rows[0];
}

/** CREATE DATABASE with the live database's encoding, locale and owner (template0: nothing extra in it). */
async function createDatabaseLike(
  admin: pg.Client,
  name: string,
  like: DatabaseInfo | undefined,
): Promise<void> {
  const literal = (value: string) => admin.escapeLiteral(value);
  let options = '';
  if (like) {
    options = ` ENCODING ${literal(like.encoding)} LC_COLLATE ${literal(like.collate)} LC_CTYPE ${literal(like.ctype)}`;
    if (like.provider === 'i' && like.iculocale)
      options += ` LOCALE_PROVIDER icu ICU_LOCALE ${literal(like.iculocale)}`;
    if (!like.isCurrentUser) options += ` OWNER ${quoteIdent(like.owner)}`;
  }
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0${options}`);
  } catch (error) {
    throw new BackupError(
      `cannot create database ${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`).catch(() => {});
}

async function loadAndVerify(
  context: BackupContext,
  archive: { file: string; manifest: Manifest; parts: string[] },
  pgRestore: FoundTool,
  target: string,
  undo: () => Promise<void>,
): Promise<void> {
  const url = withDatabase(context.url, target);
  try {
    context.log(`restoring into database ${target}`);
    const connection = toolConnection(url);
    const restore = (file: string, extra: string[]) =>
      runTool(
        pgRestore,
        [
          '--exit-on-error',
          '--no-owner',
          '--no-acl',
          ...extra,
          ...(context.verbose ? ['--verbose'] : []),
          `--dbname=${connection.dbname}`,
          file,
        ],
        { env: connection.env, verbose: context.verbose },
      );
    await restore(archive.file, []);
    // Each part is a batch of tenant schemas sized to the lock budget at backup time: restored in one
    // transaction each (one commit instead of one per object); still within the lock table, since a
    // restore locks what the dump step counted (lock-budget.ts).
    const limits = archive.parts.length > 0 ? await withClient(url, readLockLimits) : undefined;
    for (const [i, part] of archive.parts.entries()) {
      context.log(`restoring part ${i + 1} of ${archive.parts.length}`);
      await restore(part, ['--single-transaction']).catch((error: unknown) => {
        throw limits && isOutOfLocks(error)
          ? outOfLocksError(`pg_restore (part ${i + 1})`, limits, error)
          : error;
      });
    }
    context.log(`verifying ${archive.manifest.tables.length} tables in ${target}`);
    await withClient(url, (client) => verifyRestored(client, archive.manifest));
  } catch (error) {
    await undo();
    throw error;
  }
}

/** Renames live → old and temporary → live in one transaction, retrying if a client sneaks in. */
async function swap(
  admin: pg.Client,
  live: string,
  temporary: string,
  old: string,
  log: (message: string) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { rows } = await admin.query<{ terminated: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS terminated
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [live],
    );
    log(`swapping ${temporary} in as ${live} (terminated ${rows[0]?.terminated ?? 0} sessions)`);
    try {
      await admin.query('BEGIN');
      await admin.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(old)}`);
      await admin.query(`ALTER DATABASE ${quoteIdent(temporary)} RENAME TO ${quoteIdent(live)}`);
      await admin.query('COMMIT');
      return;
    } catch (error) {
      await admin.query('ROLLBACK').catch(() => {});
      if ((error as { code?: string }).code !== OBJECT_IN_USE || attempt >= 10) {
        throw new BackupError(
          `could not swap the restored database in (${error instanceof Error ? error.message : String(error)}); ${live} is unchanged`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
