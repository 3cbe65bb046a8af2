/**
 * `--action backup`: pg_dump -Fc of the database or of one tenant schema, stored with its checksum and
 * manifest.
 *
 * Consistency: a REPEATABLE READ transaction exports its snapshot and pg_dump dumps that same snapshot
 * (`--snapshot`), so the row counts and tenant revisions the manifest records are exactly what the archive
 * holds, while the application keeps writing.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { assertTenantId, tenantIdProblem } from '../tenancy/tenant-id.ts';
import { pruneBackups } from './catalog.ts';
import { checksumFileText, sha256File } from './checksum.ts';
import { connect, databaseOf, serverMajorVersion } from './connection.ts';
import type { BackupContext } from './context.ts';
import { BackupError } from './errors.ts';
import { countTables, type Manifest, readTenants } from './manifest.ts';
import { backupObjectName, CHECKSUM_SUFFIX, MANIFEST_SUFFIX, safeDatabaseName } from './naming.ts';
import { findTools, runTool, toolConnection } from './pg-tools.ts';

export interface BackupOptions {
  tenant?: string;
  /** Keep this many backups of the same database/tenant, deleting older ones after a success. */
  keep?: number;
}

export interface BackupResult {
  manifest: Manifest;
  pruned: string[];
}

export async function createBackup(context: BackupContext, options: BackupOptions): Promise<BackupResult> {
  if (options.tenant !== undefined && tenantIdProblem(options.tenant)) {
    throw new BackupError(`--tenant: ${tenantIdProblem(options.tenant)}`, 'usage');
  }
  const tenant = options.tenant === undefined ? undefined : assertTenantId(options.tenant);
  const database = databaseOf(context.url);
  const started = Date.now();
  const client = await connect(context.url);
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-backup-'));
  try {
    const server = await serverMajorVersion(client);
    const tools = await findTools(['pg_dump'], server.major, context.pgBinDir);
    if (tenant !== undefined) await assertBackupableTenant(client, tenant, database);
    await context.storage.check();

    const object = backupObjectName(database, tenant, new Date(started));
    const file = path.join(folder, object);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    const tables = await countTables(client, tenant);
    const tenants = await readTenants(client, tenant);
    const connection = toolConnection(context.url);
    context.log(
      `dumping ${tenant ? `tenant schema ${tenant} of ` : ''}database ${database} (${tables.length} tables)`,
    );
    await runTool(
      tools.pg_dump,
      [
        '--format=custom',
        `--snapshot=${rows[0]!.snapshot}`,
        `--file=${file}`,
        ...(tenant !== undefined ? [`--schema=${tenant}`] : []),
        ...(context.verbose ? ['--verbose'] : []),
        `--dbname=${connection.dbname}`,
      ],
      { env: connection.env, verbose: context.verbose },
    );
    await client.query('COMMIT');

    const [sha256, { size }] = await Promise.all([sha256File(file), stat(file)]);
    const manifest: Manifest = {
      format: 1,
      kind: tenant === undefined ? 'database' : 'tenant',
      database,
      tenant: tenant ?? null,
      object,
      createdAt: new Date(started).toISOString(),
      serverVersion: server.version,
      pgDumpVersion: tools.pg_dump.version,
      tenants,
      tables,
      sizeBytes: size,
      sha256,
      durationMs: Date.now() - started,
    };
    context.log(`uploading ${object} (${size} bytes) to ${context.storage.description}`);
    try {
      await context.storage.putFile(object, file);
      await context.storage.putText(object + MANIFEST_SUFFIX, `${JSON.stringify(manifest, null, 2)}\n`);
      // Last: the checksum file marks the backup complete (restore and --keep rely on it).
      await context.storage.putText(object + CHECKSUM_SUFFIX, checksumFileText(sha256, object));
    } catch (error) {
      await context.storage.delete([object, object + MANIFEST_SUFFIX]).catch(() => {});
      throw error;
    }
    const pruned =
      options.keep === undefined
        ? []
        : await pruneBackups(context.storage, { database: safeDatabaseName(database), tenant }, options.keep);
    return { manifest, pruned };
  } finally {
    await client.end().catch(() => {});
    await rm(folder, { recursive: true, force: true });
  }
}

async function assertBackupableTenant(client: pg.Client, tenant: string, database: string): Promise<void> {
  const { rows } = await client.query<{ present: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present',
    [tenant],
  );
  const [registered] = await readTenants(client, tenant);
  if (registered && registered.host !== 'default') {
    throw new BackupError(
      `tenant ${tenant} lives on database host "${registered.host}", not in this database: back up that server instead`,
    );
  }
  if (!rows[0]?.present) throw new BackupError(`tenant ${tenant} has no schema in database ${database}`);
}
