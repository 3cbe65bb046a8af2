/**
 * Scheduled work runs through the job queue's cron (issue 16): two real server processes on one
 * database, and each reconciliation tick is run by exactly one of them (graphile-worker claims the tick
 * in `_private_known_crontabs`). Before, every server process ran its own timer. The start-up pass is a
 * job too, with a job key.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import {
  ACCOUNT_CLEANUP_TASK,
  cronSchedules,
  everyPattern,
  RECONCILE_TASK,
} from '../../src/jobs/schedules.ts';
import { dataDir, eventually } from '../faults/support.ts';
import { SECOND_HOST, testCore } from '../helpers/core.ts';
import { type ServerProcess, spawnServer } from '../helpers/server.ts';
import { randomTenantId } from '../tenancy/helpers.ts';

interface Pass {
  task: string;
  tick: string | null;
  undone: string[];
  finished: string[];
  pid: number;
}

/** The reconciliation passes a server logged (pino JSON lines). */
function passes(server: ServerProcess): Pass[] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.includes('"reconciliation pass"'))
    .map((line) => JSON.parse(line) as Pass);
}

describe('cron across processes', { timeout: 420_000 }, () => {
  it('each reconciliation tick runs once across two processes; the start-up pass is a job', async () => {
    const core = await testCore({ secondHost: true });
    const provisioning = async (tenantId: string) =>
      core.registry.insert({
        tenant_id: tenantId,
        name: tenantId,
        host: SECOND_HOST,
        status: 'provisioning',
        revision: null,
      });
    // Left by a "crash" before either server starts: the start-up pass undoes it.
    const early = randomTenantId('early');
    await provisioning(early);

    const env = async () => ({
      DATABASE_URL: core.database.url,
      TENANT_DATABASE_URLS: JSON.stringify({ [SECOND_HOST]: core.hosts.url(SECOND_HOST) }),
      DATA_DIR: await dataDir('cron'),
      MIGRATE_TENANTS_ON_START: 'off',
      RECONCILE_AFTER_S: '0',
      RECONCILE_INTERVAL_S: '60',
      JOBS_POLL_INTERVAL_MS: '200',
    });
    // A loaded machine may take a while to start two servers from the sources (tsx).
    const start = async () => spawnServer(await env(), undefined, { startTimeoutMs: 180_000 });
    const servers = await Promise.all([start(), start()]);
    const all = () => servers.flatMap(passes);
    await eventually(
      'the start-up pass',
      async () => (await core.registry.find(early)) === undefined,
      60_000,
    );
    expect(all().some((pass) => pass.tick === null && pass.undone.includes(early))).toBe(true);

    const known = await sql<{ identifier: string }>`
      SELECT identifier FROM graphile_worker._private_known_crontabs ORDER BY identifier`.execute(
      core.hosts.db(DEFAULT_HOST),
    );
    // Every schedule of the server is registered with the queue's cron (one row each, whatever the processes).
    expect(known.rows.map((row) => row.identifier)).toEqual(
      cronSchedules({ reconcileIntervalS: 60 })
        .map((schedule) => schedule.task)
        .sort(),
    );
    expect(known.rows.map((row) => row.identifier)).toEqual(
      expect.arrayContaining([ACCOUNT_CLEANUP_TASK, 'prune-auth-tokens', RECONCILE_TASK]),
    );

    // Left after both run: the next minute's tick undoes it, in one process only.
    const late = randomTenantId('late');
    await provisioning(late);
    await eventually(
      'a cron tick undoing the late row',
      async () => all().some((pass) => pass.tick !== null && pass.undone.includes(late)),
      90_000,
    );
    const tick = all().find((pass) => pass.undone.includes(late))!.tick;
    // Give a second runner of the same tick (the bug this guards against) time to show up.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const ofTick = all().filter((pass) => pass.tick === tick);
    expect(ofTick, JSON.stringify(all())).toHaveLength(1);
    expect(await core.registry.find(late)).toBeUndefined();
    // Both processes' job runners were alive all along (so "one run" is not "one runner").
    const runners = await sql<{ n: number }>`
      SELECT count(DISTINCT process)::int AS n FROM public.job_worker_heartbeats
      WHERE beat_at > now() - interval '10 seconds'`.execute(core.hosts.db(DEFAULT_HOST));
    expect(runners.rows[0]!.n).toBe(2);
  });

  it('turns RECONCILE_INTERVAL_S into a cron pattern of whole minutes', () => {
    expect(everyPattern(1)).toBe('* * * * *');
    expect(everyPattern(60)).toBe('* * * * *');
    expect(everyPattern(300)).toBe('*/5 * * * *');
    expect(everyPattern(3_600)).toBe('0 * * * *');
    expect(everyPattern(7_200)).toBe('0 */2 * * *');
    expect(everyPattern(86_400)).toBe('0 0 * * *');
    expect(cronSchedules({ reconcileIntervalS: 300 })).toContainEqual({
      task: RECONCILE_TASK,
      pattern: '*/5 * * * *',
    });
  });
});
