/**
 * Restoring one tenant schema into the live database without a moment where the tenant is half there.
 *
 * pg_restore can only recreate a schema under the name it was dumped with, and that name is usually
 * taken by the live tenant. We therefore turn the archive into SQL (`pg_restore -f -`) and run it through
 * psql in ONE transaction wrapped by renames:
 *
 *     BEGIN;
 *       ALTER SCHEMA t RENAME TO t_hold_x;        -- only inside this transaction: others still see "t"
 *       <archive SQL: CREATE SCHEMA t; tables; COPY data; indexes; constraints>
 *       ALTER SCHEMA t RENAME TO <staging or --dest-schema>;
 *       ALTER SCHEMA t_hold_x RENAME TO t;        -- the live tenant has its name back
 *     COMMIT;
 *
 * Other sessions never see the intermediate names (catalog changes are visible at commit) and the live
 * tenant's tables are not locked; a failure or a kill rolls everything back. Both transactions hold the
 * tenant's migration lock (the runner's advisory lock key), so a restore never interleaves with a
 * migration or deletion of the same schema: one waits for the other. Views and sequences point at
 * tables by OID, so they follow the rename. (A scratch database + ALTER SCHEMA + second dump would also
 * work, but it breaks on objects that reference the public schema, e.g. foreign keys to the registry.)
 *
 * In place, the staging copy is verified against the manifest, then swapped in one transaction: rename the
 * old schema away, rename the staging one in, drop the old one, record the revision in public.tenants.
 * With --dest-schema the copy keeps its new name; it joins public.tenants only with --register.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { schemaLockKeySql } from '../migrations/runner.ts';
import { REGISTRY_CHANNEL } from '../tenancy/registry.ts';
import { tenantIdProblem } from '../tenancy/tenant-id.ts';
import { connect, quoteIdent } from './connection.ts';
import type { BackupContext } from './context.ts';
import { BackupError } from './errors.ts';
import { type Manifest, type ManifestTenant, readTenants } from './manifest.ts';
import { type FoundTool, startTool, toolConnection } from './pg-tools.ts';
import { verifyRestored } from './verify.ts';

export interface TenantRestoreOptions {
  destSchema?: string;
  register: boolean;
}

export interface TenantRestoreResult {
  schema: string;
  registered: boolean;
}

/** Longest wait for the tenant's migration lock (a migration running) and the tables. */
const LOCK_TIMEOUT = '120s';

export async function restoreTenant(
  context: BackupContext,
  archive: { file: string; manifest: Manifest },
  tools: { pg_restore: FoundTool; psql: FoundTool },
  options: TenantRestoreOptions,
): Promise<TenantRestoreResult> {
  const source = archive.manifest.tenant;
  if (source === null || tenantIdProblem(source))
    throw new BackupError(`${archive.manifest.object} is not a tenant backup`);
  const target = options.destSchema ?? source;
  const problem = tenantIdProblem(target);
  if (problem) throw new BackupError(`--dest-schema: ${problem}`, 'usage');
  const copy = target !== source;
  const recorded = archive.manifest.tenants.find((tenant) => tenant.tenantId === source);

  const client = await connect(context.url);
  try {
    const hasRegistry = await registryExists(client);
    const [registered] = hasRegistry ? await readTenants(client, target) : [];
    const targetExists = await schemaExists(client, target);
    if (copy && (targetExists || registered)) {
      throw new BackupError(`--dest-schema ${target} already exists: name a new schema`, 'usage');
    }
    if (registered && registered.host !== 'default') {
      throw new BackupError(
        `tenant ${target} lives on database host "${registered.host}", not in this database`,
      );
    }
    const register = hasRegistry && !registered && options.register;
    if (hasRegistry && !copy && !registered && !options.register) {
      throw new BackupError(
        `tenant ${target} is not registered in public.tenants: to restore it and recreate its registry entry, pass --dest-schema ${target} --register`,
        'usage',
      );
    }
    if (options.register && !hasRegistry)
      throw new BackupError('--register: this database has no public.tenants');

    const suffix = randomBytes(4).toString('hex');
    const staging = copy ? target : `${source.slice(0, 40)}_restore_${suffix}`;
    const hold = `${source.slice(0, 40)}_hold_${suffix}`;
    const sourceExists = copy ? await schemaExists(client, source) : targetExists;
    context.log(`restoring tenant ${source} into schema ${staging}`);
    await loadAs(context, archive.file, tools, { source, staging, hold: sourceExists ? hold : undefined });

    try {
      context.log(`verifying ${archive.manifest.tables.length} tables in ${staging}`);
      await verifyRestored(client, archive.manifest, (schema) => (schema === source ? staging : schema));
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      // The tenant's migration lock first (as a deletion takes it): a migration of the schema waits for the
      // swap, or the swap for it, never both at once.
      await client.query(`SELECT pg_advisory_xact_lock(${schemaLockKeySql(target)})`);
      if (!copy) {
        const old = `${source.slice(0, 40)}_old_${suffix}`;
        if (targetExists)
          await client.query(`ALTER SCHEMA ${quoteIdent(target)} RENAME TO ${quoteIdent(old)}`);
        await client.query(`ALTER SCHEMA ${quoteIdent(staging)} RENAME TO ${quoteIdent(target)}`);
        if (targetExists) await client.query(`DROP SCHEMA ${quoteIdent(old)} CASCADE`);
      }
      if (registered) await recordRevision(client, target, recorded);
      if (register) await insertRegistryRow(client, target, source, recorded);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(staging)} CASCADE`).catch(() => {});
      throw error instanceof BackupError
        ? error
        : new BackupError(
            `could not swap the restored tenant in (${String(error)}); tenant ${target} is unchanged`,
          );
    }
    return { schema: target, registered: register };
  } finally {
    await client.end().catch(() => {});
  }
}

/** pg_restore's SQL piped into psql, one transaction, renames around it (see the file comment). */
async function loadAs(
  context: BackupContext,
  file: string,
  tools: { pg_restore: FoundTool; psql: FoundTool },
  names: { source: string; staging: string; hold: string | undefined },
): Promise<void> {
  const { source, staging, hold } = names;
  const connection = toolConnection(context.url);
  // The source schema's migration lock for the whole load: it is renamed away and back inside this
  // transaction, which must not interleave with a migration of it (or its deletion).
  const before = [
    '-c',
    `SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`,
    '-c',
    `SELECT pg_advisory_xact_lock(${schemaLockKeySql(source)})`,
    ...(hold ? ['-c', `ALTER SCHEMA ${quoteIdent(source)} RENAME TO ${quoteIdent(hold)}`] : []),
  ];
  const after = ['-c', `ALTER SCHEMA ${quoteIdent(source)} RENAME TO ${quoteIdent(staging)}`];
  if (hold) after.push('-c', `ALTER SCHEMA ${quoteIdent(hold)} RENAME TO ${quoteIdent(source)}`);
  const restore = startTool(tools.pg_restore, ['--no-owner', '--no-acl', '--file=-', file], {
    env: connection.env,
    stdout: 'pipe',
  });
  const psql = startTool(
    tools.psql,
    [
      '--no-psqlrc',
      '--quiet',
      '--set=ON_ERROR_STOP=1',
      '--single-transaction',
      `--dbname=${connection.dbname}`,
      ...before,
      '--file=-',
      ...after,
    ],
    {
      env: connection.env,
      stdin: 'pipe',
      stdout: context.verbose ? 'pipe' : 'ignore',
      verbose: context.verbose,
    },
  );
  // If psql dies first, stop pg_restore instead of letting it block on a full pipe.
  psql.child.stdin?.on('error', () => restore.child.kill());
  restore.child.stdout?.pipe(psql.child.stdin!);
  psql.child.stdout?.resume();
  const results = await Promise.allSettled([restore.done, psql.done]);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) {
    restore.child.kill();
    psql.child.kill();
    throw new BackupError(
      `restoring tenant ${source} failed, nothing was changed: ${failed.reason instanceof Error ? failed.reason.message : String(failed.reason)}`,
    );
  }
}

async function registryExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>(
    "SELECT to_regclass('public.tenants') IS NOT NULL AS present",
  );
  return Boolean(rows[0]?.present);
}

async function schemaExists(client: pg.Client, schema: string): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present',
    [schema],
  );
  return Boolean(rows[0]?.present);
}

/** The restored schema is at the backup's revision; say so in the registry. */
async function recordRevision(
  client: pg.Client,
  tenant: string,
  recorded: ManifestTenant | undefined,
): Promise<void> {
  await client.query(
    `UPDATE public.tenants
        SET revision = $2, migration_status = 'ok', migration_error = NULL, migrated_at = now(), updated_at = now()
      WHERE tenant_id = $1`,
    [tenant, recorded?.revision ?? null],
  );
  await client.query('SELECT pg_notify($1, $2)', [REGISTRY_CHANNEL, tenant]);
}

async function insertRegistryRow(
  client: pg.Client,
  tenant: string,
  source: string,
  recorded: ManifestTenant | undefined,
): Promise<void> {
  const name = tenant === source ? (recorded?.name ?? tenant) : `${recorded?.name ?? source} (restored copy)`;
  await client.query(
    `INSERT INTO public.tenants (tenant_id, name, host, status, revision, migration_status, migrated_at)
     VALUES ($1, $2, 'default', 'active', $3, 'ok', now())`,
    [tenant, name.slice(0, 200), recorded?.revision ?? null],
  );
  await client.query('SELECT pg_notify($1, $2)', [REGISTRY_CHANNEL, tenant]);
}
