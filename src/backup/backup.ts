/**
 * `--action backup`: pg_dump -Fc of the database or of one tenant schema, stored with its checksum and
 * manifest.
 *
 * Consistency: a REPEATABLE READ transaction exports its snapshot and pg_dump dumps that same snapshot
 * (`--snapshot`), so the row counts and tenant revisions the manifest records are exactly what the archive
 * holds, while the application keeps writing. A whole database too large for one pg_dump's locks is
 * dumped in batches of tenant schemas from that one snapshot (dump-database.ts); the parts are stored as
 * `<object>.part-NNNN` beside the main archive and listed, with their checksums, in the manifest.
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
import { type DatabaseDump, dumpDatabase } from './dump-database.ts';
import { BackupError } from './errors.ts';
import { isOutOfLocks, type LockLimits, outOfLocksError, readLockLimits } from './lock-budget.ts';
import { countTables, type Manifest, type ManifestPart, readTenants } from './manifest.ts';
import {
  backupObjectName,
  CHECKSUM_SUFFIX,
  MANIFEST_SUFFIX,
  partSuffix,
  safeDatabaseName,
} from './naming.ts';
import { type FoundTool, findTools, runTool, toolConnection } from './pg-tools.ts';

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
    const snapshot = rows[0]!.snapshot;
    const tenants = await readTenants(client, tenant);
    const limits = await readLockLimits(client);
    let dump: DatabaseDump;
    if (tenant !== undefined) {
      context.log(`dumping tenant schema ${tenant} of database ${database}`);
      const tables = await countTables(client, [tenant]);
      await dumpOneSchema(context, tools.pg_dump, snapshot, file, tenant, limits);
      dump = { tables, parts: [] };
    } else {
      context.log(`dumping database ${database}`);
      dump = await dumpDatabase({
        context,
        holder: client,
        snapshot,
        limits,
        tenantIds: new Set(tenants.map((t) => t.tenantId)),
        pgDump: tools.pg_dump,
        file,
      });
    }
    await client.query('COMMIT');

    const [sha256, { size }] = await Promise.all([sha256File(file), stat(file)]);
    const parts: ManifestPart[] = [];
    for (const [i, part] of dump.parts.entries()) {
      const [partSha, partStat] = await Promise.all([sha256File(part.file), stat(part.file)]);
      parts.push({
        object: `${object}${partSuffix(i)}`,
        schemas: part.schemas,
        sizeBytes: partStat.size,
        sha256: partSha,
      });
    }
    const manifest: Manifest = {
      format: parts.length > 0 ? 2 : 1,
      kind: tenant === undefined ? 'database' : 'tenant',
      database,
      tenant: tenant ?? null,
      object,
      createdAt: new Date(started).toISOString(),
      serverVersion: server.version,
      pgDumpVersion: tools.pg_dump.version,
      tenants,
      tables: dump.tables,
      ...(parts.length > 0 ? { parts } : {}),
      sizeBytes: size,
      sha256,
      durationMs: Date.now() - started,
    };
    const stored = [object, ...parts.map((part) => part.object)];
    context.log(
      `uploading ${object}${parts.length ? ` and ${parts.length} part(s)` : ''} (${size + parts.reduce((t, p) => t + p.sizeBytes, 0)} bytes) to ${context.storage.description}`,
    );
    try {
      for (const [i, part] of parts.entries())
        await context.storage.putFile(part.object, dump.parts[i]!.file);
      await context.storage.putFile(object, file);
      await context.storage.putText(object + MANIFEST_SUFFIX, `${JSON.stringify(manifest, null, 2)}\n`);
      // Last: the checksum file marks the backup complete (restore and --keep rely on it).
      await context.storage.putText(
        object + CHECKSUM_SUFFIX,
        [{ sha256, object }, ...parts].map((entry) => checksumFileText(entry.sha256, entry.object)).join(''),
      );
    } catch (error) {
      await context.storage.delete([...stored, object + MANIFEST_SUFFIX]).catch(() => {});
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

/** pg_dump of one schema in the snapshot (a tenant backup). */
async function dumpOneSchema(
  context: BackupContext,
  pgDump: FoundTool,
  snapshot: string,
  file: string,
  schema: string,
  limits: LockLimits,
): Promise<void> {
  const connection = toolConnection(context.url);
  await runTool(
    pgDump,
    [
      '--format=custom',
      `--snapshot=${snapshot}`,
      `--file=${file}`,
      `--schema=${schema}`,
      ...(context.verbose ? ['--verbose'] : []),
      `--dbname=${connection.dbname}`,
    ],
    { env: connection.env, verbose: context.verbose },
  ).catch((error: unknown) => {
    throw isOutOfLocks(error) ? outOfLocksError('pg_dump', limits, error) : error;
  });
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
