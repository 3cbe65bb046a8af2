/**
 * SIGKILL during a fleet migration (SPEC 11, issue 9): `tenantry db upgrade head --all` is killed while
 * one tenant's upgrade is inside its transaction (waiting for a lock the test holds) and others have
 * finished. Afterwards every tenant is at a revision of the chain whose catalog is exactly that
 * revision's (compared with a reference tenant taken to the same revision), its version rows are the
 * chain up to it, the registry never claims more than the schema has, and a second run brings every
 * tenant to head.
 * One schema killed mid-revision: test/migrations/db-cli.test.ts; tenant creation killed:
 * test/cc/cli-tenants.test.ts; restore killed: test/backup/failure-safety.test.ts.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { collect, runCli, spawnCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';
import { eventually } from './support.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;
const start = revisions.at(-3)!;
const target = (schema: string) => ({ host: DEFAULT_HOST, db, schema });

async function versionRows(schema: string): Promise<string[]> {
  const rows = await sql<{ revision: string }>`SELECT revision FROM ${sql.table(
    `${schema}.schema_migrations`,
  )}`.execute(db);
  return rows.rows.map((r) => r.revision).sort();
}

describe('SIGKILL during a fleet migration', { timeout: 90_000 }, () => {
  it('leaves every tenant at a consistent revision; the next run completes', async () => {
    // Reference catalogs of every revision the fleet can be left at.
    await core.tenants.create({ name: 'Reference', tenantId: 'fk_reference' });
    const reference = new Map<string, string[]>();
    for (const revision of [...revisions.slice(revisions.indexOf(start))].reverse()) {
      await core.tenantRunner.downgrade(target('fk_reference'), { to: revision, allowDataLoss: true });
      reference.set(revision, await catalogSnapshot(db, 'fk_reference'));
    }
    await core.tenants.delete('fk_reference');

    const tenants = ['fk_a', 'fk_b', 'fk_c', 'fk_d', 'fk_e', 'fk_f'];
    for (const tenantId of tenants) {
      await core.tenants.create({ name: tenantId, tenantId });
      await core.tenantRunner.downgrade(target(tenantId), { to: start, allowDataLoss: true });
      await core.registry.recordMigration(tenantId, { revision: start, status: 'ok', error: null });
    }

    const blocker = new pg.Client({ connectionString: core.database.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      // The last revision's tables reference users: fk_c's upgrade stops inside its transaction.
      await blocker.query('LOCK TABLE fk_c.users IN ACCESS EXCLUSIVE MODE');
      const child = spawnCli(['db', 'upgrade', 'head', '--all', '--concurrency', '2'], {
        DATABASE_URL: core.database.url,
      });
      const finished = collect(child);
      await eventually('fk_c waits for the lock while another tenant reached head', async () => {
        // Read through the pool: inside the blocker's transaction pg_stat_activity is a frozen snapshot.
        const waiting = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
        const done = await Promise.all(
          ['fk_a', 'fk_b', 'fk_d'].map(async (t) => (await versionRows(t)).includes(head)),
        );
        return waiting.rows[0]!.n > 0 && done.some(Boolean);
      });
      child.kill('SIGKILL');
      expect((await finished).signal).toBe('SIGKILL');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    // The killed CLI's backends roll back once they notice their client is gone.
    await eventually('the killed runner’s sessions are gone', async () => {
      const left = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'tenantry' AND pid <> pg_backend_pid()
           AND state <> 'idle'`.execute(db);
      return left.rows[0]!.n === 0;
    });

    const at = new Map<string, string>();
    for (const tenantId of tenants) {
      const current = (await core.tenantRunner.status(target(tenantId))).current;
      expect(current, tenantId).not.toBeNull();
      const index = revisions.indexOf(current!);
      expect(index, tenantId).toBeGreaterThanOrEqual(revisions.indexOf(start));
      expect(await versionRows(tenantId), tenantId).toEqual(revisions.slice(0, index + 1).sort());
      expect(await catalogSnapshot(db, tenantId), tenantId).toEqual(reference.get(current!));
      // The registry may lag behind the schema (killed between commit and record), never run ahead.
      const recorded = (await core.registry.find(tenantId))?.revision ?? null;
      expect(revisions.indexOf(recorded ?? ''), tenantId).toBeLessThanOrEqual(index);
      at.set(tenantId, current!);
    }
    // Genuinely half-way: the blocked tenant did not get its last revision, another one did.
    expect(at.get('fk_c')).not.toBe(head);
    expect([...at.values()]).toContain(head);

    const again = await runCli(['db', 'upgrade', 'head', '--all'], { DATABASE_URL: core.database.url });
    expect(again.code, again.stderr).toBe(0);
    for (const tenantId of tenants) {
      expect((await core.tenantRunner.status(target(tenantId))).current, tenantId).toBe(head);
      expect(await catalogSnapshot(db, tenantId), tenantId).toEqual(reference.get(head));
      expect(await core.registry.find(tenantId), tenantId).toMatchObject({
        revision: head,
        migration_status: 'ok',
      });
    }
  });
});
