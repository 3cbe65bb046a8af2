/**
 * The queue's schema comes from the public migrations (revision 495e6c3295bd), not from the library at
 * run time: the revision replays graphile-worker's own migrations, the library then finds nothing to do,
 * and an upgraded library shipping a new migration fails here until a public revision replays it.
 */
import { createRequire } from 'node:module';
import { runMigrations } from 'graphile-worker';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { GRAPHILE_MIGRATIONS_REPLAYED } from '../../src/migrations/public/2026_12_03_1400-495e6c3295bd_job_queue.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);

async function recorded(): Promise<Array<{ id: number; ts: string; breaking: boolean }>> {
  const rows = await sql<{ id: number; ts: Date; breaking: boolean }>`
    SELECT id, ts, breaking FROM graphile_worker.migrations ORDER BY id`.execute(db);
  return rows.rows.map((row) => ({ ...row, ts: new Date(row.ts).toISOString() }));
}

describe('job queue schema', () => {
  it('replays every migration of the installed graphile-worker; the library then runs none', async () => {
    const { migrations } = createRequire(import.meta.url)('graphile-worker/dist/generated/sql.js') as {
      migrations: Record<string, string>;
    };
    expect(Object.keys(migrations)).toHaveLength(GRAPHILE_MIGRATIONS_REPLAYED);
    const before = await recorded();
    expect(before.map((row) => row.id)).toEqual(
      Array.from({ length: GRAPHILE_MIGRATIONS_REPLAYED }, (_, i) => i + 1),
    );
    expect(before.filter((row) => row.breaking).map((row) => row.id)).toEqual(
      Object.entries(migrations)
        .filter(([, text]) => text.startsWith('--! breaking'))
        .map(([file]) => Number.parseInt(file.slice(0, 6), 10)),
    );
    await runMigrations({ connectionString: core.database.url, logger: undefined });
    expect(await recorded()).toEqual(before);
  });

  it('the revision round-trips: down drops the queue, up rebuilds the same catalog', async () => {
    const target = { host: DEFAULT_HOST, db, schema: 'public' };
    const snapshot = () => catalogSnapshot(db, 'graphile_worker');
    const atHead = await snapshot();
    expect(atHead.length).toBeGreaterThan(10);
    await core.publicRunner.downgrade(target, { to: '0a06f682cfbb' });
    const gone = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'graphile_worker'`.execute(db);
    expect(gone.rows[0]?.n).toBe(0);
    await core.publicRunner.upgrade(target);
    expect(await snapshot()).toEqual(atHead);
  });
});
