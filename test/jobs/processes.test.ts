/**
 * Background jobs across real server processes on one database (issue 16):
 *  - a fleet job started through one process is read (and finished) through another;
 *  - SIGKILL of the process running a fleet job: another process releases it (heartbeats) and finishes
 *    it — every tenant at head, tenants finished before the kill not run again;
 *  - SIGKILL while an e-mail is being sent: another process sends it; it arrives once.
 */

import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { simpleParser } from 'mailparser';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { listQueueJobs } from '../../src/jobs/admin.ts';
import { PASSWORD, uniqueEmail } from '../accounts/helpers.ts';
import { dataDir, eventually, SERVER_ADMIN } from '../faults/support.ts';
import { testCore } from '../helpers/core.ts';
import { spawnServer } from '../helpers/server.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;
const start = revisions.at(-3)!;

const serverEnv = async (extra: Record<string, string> = {}) => ({
  DATABASE_URL: core.database.url,
  DATA_DIR: await dataDir('jobs'),
  MIGRATE_TENANTS_ON_START: 'off',
  JOBS_POLL_INTERVAL_MS: '200',
  JOBS_HEARTBEAT_MS: '300',
  ...extra,
});

async function getJson(url: string): Promise<Record<string, unknown> & { status: string }> {
  const response = await fetch(url, { headers: SERVER_ADMIN });
  expect(response.status, url).toBe(200);
  return (await response.json()) as Record<string, unknown> & { status: string };
}

async function behindTenants(prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}_${String.fromCharCode(97 + i)}`);
  for (const tenantId of ids) {
    await core.tenants.create({ name: tenantId, tenantId });
    await core.tenantRunner.downgrade({ host: DEFAULT_HOST, db, schema: tenantId }, { to: start });
    await core.registry.recordMigration(tenantId, { revision: start, status: 'ok', error: null });
  }
  return ids;
}

describe('background jobs across processes', { timeout: 240_000 }, () => {
  it('a fleet job started on one process is read on the other; SIGKILL mid-job → resumed elsewhere, nothing twice', async () => {
    const tenants = await behindTenants('pj', 5);
    const a = await spawnServer(await serverEnv());
    const blocker = new pg.Client({ connectionString: core.database.url });
    await blocker.connect();
    let jobId = '';
    try {
      await blocker.query('BEGIN');
      // The last revision's tables reference users: pj_c's upgrade stops inside its transaction.
      await blocker.query('LOCK TABLE pj_c.users IN ACCESS EXCLUSIVE MODE');
      const started = await fetch(`${a.url}/cc/migrate`, {
        method: 'POST',
        headers: { ...SERVER_ADMIN, 'content-type': 'application/json' },
        body: JSON.stringify({ concurrency: 1 }),
      });
      expect(started.status).toBe(202);
      jobId = ((await started.json()) as { job_id: string }).job_id;
      await eventually('pj_c is being upgraded by process A, pj_a and pj_b are done', async () => {
        const rows = await sql<{ tenant_id: string; status: string }>`
          SELECT tenant_id, status FROM public.fleet_job_tenants WHERE job_id = ${jobId}`.execute(db);
        const by = Object.fromEntries(rows.rows.map((r) => [r.tenant_id, r.status]));
        return by.pj_c === 'running' && by.pj_a === 'upgraded' && by.pj_b === 'upgraded';
      });
      a.child.kill('SIGKILL');
      expect((await a.exited).signal).toBe('SIGKILL');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    const before = await sql<{ tenant_id: string; finished_at: Date; attempts: number }>`
      SELECT tenant_id, finished_at, attempts FROM public.fleet_job_tenants
      WHERE job_id = ${jobId} AND status = 'upgraded' ORDER BY tenant_id`.execute(db);
    expect(before.rows.map((r) => r.tenant_id)).toEqual(['pj_a', 'pj_b']);

    // Process B: answers for the job at once, and takes it over once A's heartbeat is stale.
    const b = await spawnServer(await serverEnv());
    expect((await getJson(`${b.url}/cc/jobs/${jobId}`)).status).toBe('running');
    let job = await getJson(`${b.url}/cc/jobs/${jobId}`);
    await eventually(
      'process B finishes the job',
      async () => {
        job = await getJson(`${b.url}/cc/jobs/${jobId}`);
        return job.status === 'succeeded';
      },
      60_000,
    );
    expect(job).toMatchObject({ progress: { done: 5, total: 5 }, summary: { upgraded: 5, failed: 0 } });
    for (const tenantId of tenants) {
      const status = await core.tenantRunner.status({ host: DEFAULT_HOST, db, schema: tenantId });
      expect(status.current, tenantId).toBe(head);
      const rows = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM ${sql.table(`${tenantId}.schema_migrations`)}`.execute(db);
      expect(rows.rows[0]?.n, tenantId).toBe(revisions.length);
    }
    // Tenants finished before the kill were not run again.
    const after = await sql<{ tenant_id: string; finished_at: Date; attempts: number }>`
      SELECT tenant_id, finished_at, attempts FROM public.fleet_job_tenants
      WHERE job_id = ${jobId} AND tenant_id IN ('pj_a', 'pj_b') ORDER BY tenant_id`.execute(db);
    expect(after.rows).toEqual(before.rows);
    const history = await getJson(`${b.url}/cc/jobs?page=1&size=5`);
    expect(history).toMatchObject({ total: 1, items: [{ job_id: jobId, status: 'succeeded', done: 5 }] });
    // B runs jobs on this database: stop it (gracefully) so the next test's processes are alone.
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('SIGKILL during an e-mail send: another process sends it, once', async () => {
    const received: string[] = [];
    let stall = true;
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, _session, callback) {
        if (stall) {
          // Swallow the message and never answer: the sender is stuck mid-send.
          stream.resume();
          return;
        }
        simpleParser(stream)
          .then((mail) => {
            const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
            received.push(to?.value[0]?.address ?? '');
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
    const smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;

    const a = await spawnServer(await serverEnv({ SMTP_URL: smtpUrl }));
    const email = uniqueEmail('kill');
    const registered = await fetch(`${a.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        company_name: 'Killed Mid Send',
        first_name: 'K',
        last_name: 'S',
        email,
        password: PASSWORD,
        tos: true,
      }),
    });
    expect(registered.status).toBe(201);
    await eventually('process A is stuck sending the e-mail', async () => {
      const [job] = await listQueueJobs(db);
      return job?.state === 'running';
    });
    a.child.kill('SIGKILL');
    await a.exited;
    stall = false;

    await spawnServer(await serverEnv({ SMTP_URL: smtpUrl }));
    await eventually('process B sends the e-mail', async () => received.length > 0, 60_000);
    await eventually('the queue is empty', async () => (await listQueueJobs(db)).length === 0);
    expect(received).toEqual([email]);
  });
});
