/**
 * Tenant moves between two real PostgreSQL servers (issue 17): the harness's main server (host
 * `default`) and its second one (host `eu2`, started empty). A concurrent writer goes through the real
 * routing (registry cache, LISTEN/NOTIFY, tenant plugin) and checks that every write it was told
 * succeeded is on the tenant's host afterwards; both engines (logical replication, the dump fallback).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { runMove, startMove } from '../../src/tenancy/moves/move-engine.ts';
import { findMove } from '../../src/tenancy/moves/move-store.ts';
import { runCli } from '../helpers/cli.ts';
import { ADMIN, SECOND_HOST } from '../helpers/core.ts';
import {
  app,
  core,
  createOnSecondHost,
  expectNoLeftovers,
  expectServedFromOneHost,
  startWriter,
  writtenRows,
} from './move-helpers.ts';

describe('tenant moves between two servers', { timeout: 240_000 }, () => {
  it('moves 2 → 1 by logical replication and back by the dump fallback under a concurrent writer', async () => {
    const tenant = await createOnSecondHost();

    for (const [to, method] of [
      [DEFAULT_HOST, 'logical'],
      [SECOND_HOST, 'dump'],
    ] as const) {
      const writes = startWriter(tenant);
      await new Promise((r) => setTimeout(r, 300));
      const id = await startMove(core, tenant, to);
      const steps: string[] = [];
      // No onSwitched: the app's cache must learn of the switch through NOTIFY, as another process would.
      const result = await runMove(core, id, { method, onProgress: (step) => steps.push(step) });
      const { acked, unexpected } = await writes.stop();

      expect(result, result.error ?? '').toMatchObject({ state: 'done', method, to, error: null });
      expect(unexpected).toEqual([]);
      expect(await expectServedFromOneHost(tenant)).toBe(to);
      const present = await writtenRows(to, tenant);
      expect(acked.filter((n) => !present.has(n))).toEqual([]);
      expect(acked.length).toBeGreaterThan(20);
      expect(result.tables.length).toBeGreaterThan(5);
      expect(steps).toContain('registry switched');
      if (method === 'dump') expect(result.method_note).toMatch(/writes are held for the whole copy/);
      else expect(result.hold_ms).toBeLessThan(5_000);
      const row = await findMove(core.hosts.db(), id);
      expect(row!.steps.map((s) => s.step)).toContain('done');
    }
    // The seeded history survived both moves.
    const seeds = await sql<{ n: number; changed: number }>`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE description = 'changed')::int AS changed
      FROM ${sql.id(tenant)}.roles WHERE name LIKE 'SEED%'`.execute(core.hosts.db(SECOND_HOST));
    expect(seeds.rows[0]).toEqual({ n: 49, changed: 1 });
    await expectNoLeftovers();
  });

  it('a dry run copies and verifies into a scratch schema on the target and leaves nothing', async () => {
    const tenant = await createOnSecondHost();
    const id = await startMove(core, tenant, DEFAULT_HOST, { dryRun: true });
    const result = await runMove(core, id);
    expect(result, result.error ?? '').toMatchObject({ state: 'done', dry_run: true, method: 'logical' });
    expect(await expectServedFromOneHost(tenant)).toBe(SECOND_HOST);
    await expectNoLeftovers();
  });

  it('POST /cc/tenants/{id}/move runs the move as a job readable at GET /cc/jobs/{id}', async () => {
    const tenant = await createOnSecondHost();
    const bad = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${tenant}/move`,
      headers: ADMIN,
      payload: { host: 'nowhere' },
    });
    expect(bad.statusCode).toBe(400);
    const started = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${tenant}/move`,
      headers: ADMIN,
      payload: { host: DEFAULT_HOST },
    });
    expect(started.statusCode, started.body).toBe(202);
    const { job_id: jobId } = started.json();
    const again = await app.inject({
      method: 'POST',
      url: `/cc/tenants/${tenant}/move`,
      headers: ADMIN,
      payload: { host: DEFAULT_HOST },
    });
    expect(again.statusCode).toBe(409);
    let view = { status: 'queued', state: 'queued', steps: [] as Array<{ step: string }> };
    for (let i = 0; i < 600 && !['succeeded', 'failed'].includes(view.status); i++) {
      await new Promise((r) => setTimeout(r, 200));
      const response = await app.inject({ method: 'GET', url: `/cc/jobs/${jobId}`, headers: ADMIN });
      expect(response.statusCode, response.body).toBe(200);
      view = response.json();
    }
    expect(view).toMatchObject({
      kind: 'move',
      status: 'succeeded',
      state: 'done',
      tenant_id: tenant,
      to: DEFAULT_HOST,
    });
    expect(view.steps.map((s) => s.step)).toContain('registry switched');
    expect(await expectServedFromOneHost(tenant)).toBe(DEFAULT_HOST);
    await expectNoLeftovers();
  });
  it('drains a host: every tenant moves, one that cannot does not stop the others, and a summary', async () => {
    const [a, b, blocked] = [
      await createOnSecondHost(),
      await createOnSecondHost(),
      await createOnSecondHost(),
    ];
    // A decoy schema of the same name on the target: that one tenant cannot move there.
    await sql`CREATE SCHEMA ${sql.id(blocked)}`.execute(core.hosts.db(DEFAULT_HOST));
    const onSecond = (await core.registry.list({ host: SECOND_HOST })).length;
    const result = await runCli(
      ['tenants', 'move', '--from', SECOND_HOST, '--to', DEFAULT_HOST, '--concurrency', '2'],
      {
        DATABASE_URL: core.hosts.url(DEFAULT_HOST),
        TENANT_DATABASE_URLS: JSON.stringify({ [SECOND_HOST]: core.hosts.url(SECOND_HOST) }),
        // A machine busy with parallel test files can be slow to hand out connections.
        DATABASE_POOL_WAIT_MS: '30000',
      },
    );
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toContain(
      `draining ${SECOND_HOST}: ${onSecond} tenant(s) to ${DEFAULT_HOST}, 2 at a time`,
    );
    expect(result.stdout).toMatch(new RegExp(`${blocked}\\s+failed .*already has a schema named`));
    expect(result.stdout).toContain(
      `${onSecond - 1} of ${onSecond} tenant(s) moved from ${SECOND_HOST} to ${DEFAULT_HOST}; 1 failed`,
    );
    for (const tenant of [a, b]) expect((await core.registry.find(tenant))!.host).toBe(DEFAULT_HOST);
    expect((await core.registry.find(blocked))!.host).toBe(SECOND_HOST);
    expect((await core.registry.list({ host: SECOND_HOST })).map((t) => t.tenant_id)).toEqual([blocked]);
    await sql`DROP SCHEMA ${sql.id(blocked)}`.execute(core.hosts.db(DEFAULT_HOST));
    await expectNoLeftovers();
  });
});
