/**
 * Fleet jobs in waves (issue 16), through the control center and the job runner of a real app on real
 * PostgreSQL: a failing canary halts the job before the other tenants are touched; `max_failures`
 * halts it once failures exceed the bound (remaining tenants untouched); `resume` finishes it after the
 * fix; `cancel` stops it between tenants.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { ADMIN, testApp, testCore } from '../helpers/core.ts';

type Job = {
  status: string;
  summary: Record<string, number>;
  results: Array<{ tenant_id: string; status: string; wave: string }>;
};

const core = await testCore({ env: { JOBS_POLL_INTERVAL_MS: '100' } });
const app: App = await testApp({ core });
const db = core.hosts.db(DEFAULT_HOST);
const head = core.tenantRunner.set.head;

async function start(body: Record<string, unknown>): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/cc/migrate', headers: ADMIN, payload: body });
  expect(response.statusCode, response.body).toBe(202);
  return response.json().job_id;
}

async function settled(id: string): Promise<Job> {
  let job = {} as Job;
  await vi.waitFor(
    async () => {
      job = (await app.inject({ method: 'GET', url: `/cc/jobs/${id}`, headers: ADMIN })).json();
      expect(['queued', 'running']).not.toContain(job.status);
    },
    { timeout: 30_000, interval: 50 },
  );
  return job;
}

async function revision(tenantId: string): Promise<string | null> {
  return (await core.tenantRunner.status({ host: DEFAULT_HOST, db, schema: tenantId })).current;
}

/** Tenants at base; `broken` ones cannot migrate (a squatter table where the first revision creates one). */
async function fleet(prefix: string, broken: string[]): Promise<string[]> {
  const ids = ['a', 'b', 'c', 'd'].map((s) => `${prefix}_${s}`);
  for (const id of ids) {
    await core.tenants.create({ name: id, tenantId: id });
    await core.tenantRunner.downgrade(
      { host: DEFAULT_HOST, db, schema: id },
      { to: 'base', allowDataLoss: true },
    );
    await core.registry.recordMigration(id, { revision: null, status: 'ok', error: null });
  }
  for (const id of broken) await sql`CREATE TABLE ${sql.id(id)}.roles (squatter int)`.execute(db);
  return ids;
}

describe('fleet jobs in waves', { timeout: 120_000 }, () => {
  it('a failing canary halts the job; the other tenants are untouched', async () => {
    const ids = await fleet('wc', ['wc_c']);
    const id = await start({ tenants: ids, canary: ['wc_c', 'wc_a'], concurrency: 1 });
    const job = await settled(id);
    expect(job).toMatchObject({ status: 'halted', summary: { failed: 1, pending: 2 } });
    expect(job.results.filter((r) => r.wave === 'canary').map((r) => r.tenant_id)).toEqual(['wc_a', 'wc_c']);
    expect(await revision('wc_b')).toBeNull();
    expect(await revision('wc_d')).toBeNull();
  });

  it('max_failures halts once exceeded; resume after the fix finishes every tenant', async () => {
    const ids = await fleet('wm', ['wm_b']);
    const id = await start({ tenants: ids, max_failures: 0, concurrency: 1 });
    const halted = await settled(id);
    expect(halted).toMatchObject({ status: 'halted', summary: { upgraded: 1, failed: 1, pending: 2 } });
    expect(await revision('wm_c')).toBeNull();

    await sql`DROP TABLE wm_b.roles`.execute(db);
    const resumed = await app.inject({ method: 'POST', url: `/cc/jobs/${id}/resume`, headers: ADMIN });
    expect(resumed.statusCode).toBe(202);
    const done = await settled(id);
    expect(done).toMatchObject({ status: 'succeeded', summary: { upgraded: 4, failed: 0, pending: 0 } });
    for (const tenant of ids) expect(await revision(tenant)).toBe(head);
    // Only a halted or failed job resumes.
    expect(
      (await app.inject({ method: 'POST', url: `/cc/jobs/${id}/resume`, headers: ADMIN })).statusCode,
    ).toBe(409);
    const percent = await start({ tenants: ids, max_failures: '10%' });
    expect((await settled(percent)).status).toBe('succeeded');
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/cc/migrate',
          headers: ADMIN,
          payload: { max_failures: 'ten' },
        })
      ).statusCode,
    ).toBe(400);
  });

  it('cancel stops the job between tenants', async () => {
    const ids = await fleet('wx', []);
    const blocker = new pg.Client({ connectionString: core.database.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE wx_a.schema_migrations IN ACCESS EXCLUSIVE MODE');
    const id = await start({ tenants: ids, concurrency: 1 });
    await vi.waitFor(
      async () => {
        const job: Job = (await app.inject({ method: 'GET', url: `/cc/jobs/${id}`, headers: ADMIN })).json();
        expect(job.results.find((r) => r.tenant_id === 'wx_a')?.status).toBe('running');
      },
      { timeout: 10_000, interval: 50 },
    );
    const cancelled = await app.inject({ method: 'POST', url: `/cc/jobs/${id}/cancel`, headers: ADMIN });
    expect(cancelled.statusCode).toBe(202);
    await blocker.query('ROLLBACK');
    await blocker.end();
    const job = await settled(id);
    expect(job.status).toBe('cancelled');
    expect(job.summary.pending).toBe(3);
    for (const tenant of ids.slice(1)) expect(await revision(tenant)).toBeNull();
    const history = (await app.inject({ method: 'GET', url: '/cc/jobs?size=2', headers: ADMIN })).json();
    expect(history).toMatchObject({ page: 1, size: 2 });
    expect(history.items[0]).toMatchObject({ job_id: id, status: 'cancelled', done: 1 });
    expect(history.pages).toBe(Math.ceil(history.total / 2));
  });
});
