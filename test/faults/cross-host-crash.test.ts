/**
 * Several database hosts (issue 13):
 *  - "Every database host is ready for tenants": the second test host starts EMPTY (no public schema,
 *    no pg_trgm); host-level revisions reach it through the runner before its first tenant;
 *  - "Crash-safe creation on another host": `tenantry tenants create --host eu2` is killed (SIGKILL) at
 *    each step that leaves state behind — (a) registry row `provisioning`, schema not yet committed;
 *    (b) schema committed, row not yet `active` — and the next server start finishes (b) and undoes (a);
 *  - the e-mail directory of tenants on another host is repaired to match their users.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { HOST_SCHEMA } from '../../src/tenancy/host-migrations.ts';
import { reconcile } from '../../src/tenancy/reconciler.ts';
import { collect, spawnCli } from '../helpers/cli.ts';
import { SECOND_HOST, testCore } from '../helpers/core.ts';
import { spawnServer } from '../helpers/server.ts';
import { randomTenantId, schemaExists } from '../tenancy/helpers.ts';
import { dataDir, eventually } from './support.ts';

type Core = Awaited<ReturnType<typeof testCore>>;

/** Holds the runner's schema lock for `schema` on eu2 until `release()`. */
async function holdSchemaLock(core: Core, schema: string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held!: () => void;
  const holding = new Promise<void>((resolve) => {
    held = resolve;
  });
  const done = core.tenantRunner.withSchemaLock(
    { host: SECOND_HOST, db: core.hosts.db(SECOND_HOST), schema },
    async () => {
      held();
      await released;
    },
  );
  await holding;
  return async () => {
    release();
    await done;
  };
}

async function waiting(core: Core, host: string, condition: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const rows = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'tenantry' AND ${sql.raw(condition)}`.execute(
        core.hosts.db(host),
      );
      expect(rows.rows[0]!.n).toBeGreaterThanOrEqual(1);
    },
    // Generous: a CLI start (tsx, core) takes seconds on a machine busy with parallel test files.
    { timeout: 60_000, interval: 50 },
  );
}

describe('several database hosts', { timeout: 240_000 }, () => {
  it('a fresh, empty secondary host gets its host-level revisions before its first tenant', async () => {
    const core = await testCore({ secondHost: true });
    const second = core.hosts.db(SECOND_HOST);
    const before = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_trgm'`.execute(second);
    expect(before.rows[0]!.n).toBe(0);
    expect(await schemaExists(second, HOST_SCHEMA)).toBe(false);

    const id = randomTenantId('fresh');
    await core.tenants.create({ name: 'Fresh host', tenantId: id, host: SECOND_HOST });
    const recorded = await sql<{ revision: string }>`
      SELECT revision FROM tenantry.schema_migrations`.execute(second);
    expect(recorded.rows.map((r) => r.revision)).toEqual([core.hostMigrations.runner.set.head]);

    // At start every host is brought to head, and each records it in its own version table.
    await core.migratePublic();
    for (const host of [DEFAULT_HOST, SECOND_HOST]) {
      const status = await core.hostMigrations.runner.status(core.hostMigrations.target(host));
      expect(status).toMatchObject({ behind: 0, current: core.hostMigrations.runner.set.head });
    }
  });

  it('SIGKILL at each step of a creation on another host: the next start finishes or undoes it', async () => {
    const core = await testCore({ secondHost: true });
    const env = {
      DATABASE_URL: core.hosts.url(DEFAULT_HOST),
      TENANT_DATABASE_URLS: JSON.stringify({ [SECOND_HOST]: core.hosts.url(SECOND_HOST) }),
    };
    const [undo, finish] = [randomTenantId('undo'), randomTenantId('finish')];

    // (a) Killed after the `provisioning` row, while its schema transaction waits for the schema lock.
    let release = await holdSchemaLock(core, undo);
    let child = spawnCli(
      ['tenants', 'create', '--name', 'Undo', '--schema', undo, '--host', SECOND_HOST],
      env,
    );
    let finished = collect(child);
    await waiting(core, SECOND_HOST, `wait_event = 'advisory'`);
    expect(await core.registry.find(undo)).toMatchObject({ status: 'provisioning' });
    child.kill('SIGKILL');
    expect((await finished).signal).toBe('SIGKILL');
    await release();

    // (b) Killed after the schema committed on eu2, while the row waits to turn `active`.
    release = await holdSchemaLock(core, finish);
    child = spawnCli(
      ['tenants', 'create', '--name', 'Finish', '--schema', finish, '--host', SECOND_HOST],
      env,
    );
    finished = collect(child);
    await waiting(core, SECOND_HOST, `wait_event = 'advisory'`);
    const rowLock = new pg.Client({ connectionString: core.hosts.url(DEFAULT_HOST) });
    await rowLock.connect();
    try {
      await rowLock.query('BEGIN');
      await rowLock.query('SELECT 1 FROM public.tenants WHERE tenant_id = $1 FOR UPDATE', [finish]);
      await release();
      await waiting(core, DEFAULT_HOST, `wait_event_type = 'Lock' AND query ILIKE 'update%tenants%'`);
      expect(await schemaExists(core.hosts.db(SECOND_HOST), finish)).toBe(true);
      child.kill('SIGKILL');
      expect((await finished).signal).toBe('SIGKILL');
      // Its backend would still run the UPDATE once the lock goes (PostgreSQL notices a dead client only
      // when it answers): end it too, as a crash of the machine or a cut network would.
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                  AND query ILIKE 'update%tenants%'`.execute(core.hosts.db());
    } finally {
      await rowLock.query('COMMIT');
      await rowLock.end();
    }
    expect(await core.registry.find(finish)).toMatchObject({ status: 'provisioning' });

    // The next start reconciles both (at start, before it even listens: a loaded machine may take longer
    // than the helper's 45 s to reach "listening", which this test does not need; stopped at file end).
    const server = spawnServer({
      ...env,
      DATA_DIR: await dataDir('reconcile'),
      RECONCILE_AFTER_S: '0',
      MIGRATE_TENANTS_ON_START: 'off',
    });
    server.catch(() => {});
    await eventually(
      'reconciliation',
      async () => {
        const [a, b] = [await core.registry.find(undo), await core.registry.find(finish)];
        return a === undefined && b?.status === 'active';
      },
      90_000,
    );
    expect(await core.registry.find(finish)).toMatchObject({
      revision: core.tenantRunner.set.head,
      migration_status: 'ok',
    });
    expect(
      await core.tenantRunner.status({ host: SECOND_HOST, db: core.hosts.db(SECOND_HOST), schema: finish }),
    ).toMatchObject({ behind: 0 });
    expect(await schemaExists(core.hosts.db(SECOND_HOST), undo)).toBe(false);
    // The undone id is free again.
    await core.tenants.create({ name: 'Undo again', tenantId: undo, host: SECOND_HOST });
  });

  it('repairs the e-mail directory of tenants on another host after interrupted compensation', async () => {
    const core = await testCore({ secondHost: true });
    const id = randomTenantId('dir');
    await core.tenants.create({ name: 'Directory', tenantId: id, host: SECOND_HOST });
    const second = core.hosts.db(SECOND_HOST);
    const directory = core.hosts.db(DEFAULT_HOST);
    const addUser = async (email: string) =>
      (
        await sql<{ uuid: string }>`
          INSERT INTO ${sql.id(id)}.users (email, role_id)
          VALUES (${email}, (SELECT id FROM ${sql.id(id)}.roles WHERE name = 'MEMBER'))
          RETURNING uuid::text AS uuid`.execute(second)
      ).rows[0]!.uuid;
    // A user whose directory row was removed by a compensation that crashed before the user was removed.
    const unlisted = await addUser('unlisted@example.com');
    // A user whose e-mail change reached the directory, then the tenant transaction died.
    const renamed = await addUser('kept@example.com');
    await sql`INSERT INTO public.accounts (email, tenant_id, user_uuid, created_at)
              VALUES ('changed@example.com', ${id}, ${renamed}::uuid, now() - interval '1 hour'),
                     ('ghost@example.com', ${id}, gen_random_uuid(), now() - interval '1 hour'),
                     ('young@example.com', ${id}, gen_random_uuid(), now())`.execute(directory);

    const report = await reconcile(core, 60);
    expect(report.directory).toEqual({ removed: 1, added: 1, changed: 1 });
    const rows = await sql<{ email: string; user_uuid: string }>`
      SELECT email, user_uuid::text AS user_uuid FROM public.accounts WHERE tenant_id = ${id}
      ORDER BY email`.execute(directory);
    expect(rows.rows).toEqual([
      { email: 'kept@example.com', user_uuid: renamed },
      { email: 'unlisted@example.com', user_uuid: unlisted },
      // Younger than the grace period: may belong to a creation still in flight, left alone.
      { email: 'young@example.com', user_uuid: expect.any(String) },
    ]);
    expect((await reconcile(core, 60)).directory).toEqual({ removed: 0, added: 0, changed: 0 });
  });
});
