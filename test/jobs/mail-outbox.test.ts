/**
 * E-mail as a transactional outbox (issue 16), against real PostgreSQL, a real job runner and a real
 * SMTP peer (smtp-server): sign-up answers 201 while the mail server is down and the e-mail arrives,
 * once, when it comes back; a job that always throws ends in the failed list after its attempts
 * without holding up the others; a job key makes a second enqueue of a waiting message replace it.
 *
 * graphile-worker 0.17's back-off is fixed in its SQL (e^attempt seconds: 2.7 s, then 7.4 s …), so the
 * tests keep attempts low (MAIL_MAX_ATTEMPTS=2) and poll often (JOBS_POLL_INTERVAL_MS) rather than
 * shorten the delay.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { freePort } from '../../src/db/embedded.ts';
import { listQueueJobs, retryQueueJob, showQueueJob } from '../../src/jobs/admin.ts';
import { MAIL_TASK } from '../../src/jobs/mail-jobs.ts';
import { enqueue } from '../../src/jobs/queue.ts';
import { accountsApp, randomIp, registerBody } from '../accounts/helpers.ts';

interface Received {
  to: string;
  subject: string;
}

async function smtpPeer(port = 0): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
          received.push({ to: to?.value[0]?.address ?? '', subject: mail.subject ?? '' });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, received };
}

const FAST = { JOBS_POLL_INTERVAL_MS: '100', MAIL_MAX_ATTEMPTS: '2' };

describe('e-mail outbox', { timeout: 60_000 }, () => {
  it('SMTP down during sign-up: 201 at once, the e-mail arrives once when SMTP returns', async () => {
    const port = await freePort(); // nothing listens there yet: connections are refused
    const { app } = await accountsApp({ env: { ...FAST, SMTP_URL: `smtp://127.0.0.1:${port}` } });
    const body = registerBody();
    const response = await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: body,
      remoteAddress: randomIp(),
    });
    expect(response.statusCode, response.body).toBe(201);
    const db = app.core.hosts.db();
    // The first attempt fails on the refused connection and the job waits for its retry.
    await vi.waitFor(
      async () => {
        const [job] = await listQueueJobs(db);
        expect(job).toMatchObject({ task: MAIL_TASK, state: 'retrying', attempts: 1 });
        expect(job?.last_error).toMatch(/ECONNREFUSED/);
      },
      { timeout: 10_000, interval: 50 },
    );

    const smtp = await smtpPeer(port);
    await vi.waitFor(() => expect(smtp.received.map((m) => m.to)).toEqual([body.email]), {
      timeout: 15_000,
      interval: 50,
    });
    expect(smtp.received[0]?.subject).toMatch(/Confirm/);
    await vi.waitFor(async () => expect(await listQueueJobs(db)).toEqual([]), { timeout: 5_000 });
    expect(smtp.received).toHaveLength(1);
  });

  it('a job that always throws ends failed after its attempts; other jobs are not held up', async () => {
    const smtp = await smtpPeer();
    let poisonRuns = 0;
    const { app } = await accountsApp({
      env: { ...FAST, SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
      setup: (app) => {
        app.jobs.extraTasks.poison = async () => {
          poisonRuns++;
          throw new Error('poisoned payload');
        };
      },
    });
    const db = app.core.hosts.db();
    const poison = await enqueue(db, 'poison', {}, { maxAttempts: 2 });
    for (let i = 0; i < 5; i++) {
      await app.jobs.mail.enqueue(
        db,
        { to: `n${i}@example.com`, subject: `note ${i}`, text: 'x', html: '<p>x</p>' },
        `test:note:${i}`,
      );
    }
    await vi.waitFor(() => expect(smtp.received).toHaveLength(5), { timeout: 10_000, interval: 50 });
    await vi.waitFor(
      async () => expect(await showQueueJob(db, poison)).toMatchObject({ state: 'failed', attempts: 2 }),
      { timeout: 20_000, interval: 100 },
    );
    expect(poisonRuns).toBe(2);
    const failed = await listQueueJobs(db, { state: 'failed' });
    expect(failed.map((job) => job.id)).toEqual([poison]);
    expect(failed[0]?.last_error).toContain('poisoned payload');

    // The operator's retry runs it again at once (attempts reset).
    expect(await retryQueueJob(db, poison)).toBe(true);
    await vi.waitFor(() => expect(poisonRuns).toBe(3), { timeout: 5_000, interval: 50 });
  });

  it('a job key: enqueuing a waiting message again replaces it (one send)', async () => {
    const { app } = await accountsApp({ env: { ...FAST, JOBS_CONCURRENCY: '0' } });
    const db = app.core.hosts.db();
    const message = { to: 'k@example.com', subject: 'one', text: 'x', html: '<p>x</p>' };
    await app.jobs.mail.enqueue(db, message, 'test:key');
    await app.jobs.mail.enqueue(db, { ...message, subject: 'two' }, 'test:key');
    const jobs = await listQueueJobs(db);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ key: 'test:key' });
    expect((await showQueueJob(db, jobs[0]!.id))?.payload).toMatchObject({ subject: 'two' });
  });
});
