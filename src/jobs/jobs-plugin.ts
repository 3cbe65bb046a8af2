/**
 * Background jobs in the server (issue 16): `app.jobs` gives the mail outbox (`mail`) to the account
 * flows, and — when JOBS_CONCURRENCY > 0 — runs the job runner in this process from `onReady` until
 * `app.close()` (graceful: running jobs finish or are released to another process).
 *
 * Tasks: `fleet-migrate` (src/jobs/fleet-jobs.ts), `tenant-move` (src/jobs/move-jobs.ts), `send-mail` (src/jobs/mail-jobs.ts) and the cron
 * tasks of src/jobs/schedules.ts (token prune, reconciliation, account clean-up). The runner has its own small pool on the default host (one
 * connection stays in LISTEN), so jobs never take connections from requests.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { TaskList } from 'graphile-worker';
import { sql } from 'kysely';
import pg from 'pg';
import type pino from 'pino';
import { DEFAULT_HOST } from '../db/hosts.ts';
import { createMailer } from '../mail/mailer.ts';
import {
  isDeliverPayload,
  runDelivery,
  sweepWebhooks,
  WEBHOOK_SWEEP_TASK,
  WEBHOOK_TASK,
} from '../routes/webhooks/delivery.ts';
import { reconcile } from '../tenancy/reconciler.ts';
import { SCHEMA_POOL_REFILL_TASK } from '../tenancy/schema-pool.ts';
import {
  PRUNE_AUTH_TASK,
  PRUNE_FEED_TASK,
  PRUNE_IDEMPOTENCY_TASK,
  pruneAuthTokens,
  pruneChangeFeeds,
  pruneIdempotencyKeys,
} from './cleanup.ts';
import { FLEET_TASK, runFleetJob } from './fleet-jobs.ts';
import { isMailMessage, MAIL_TASK, MailQueue, splitMailPayload, tenantCommitted } from './mail-jobs.ts';
import { MOVE_TASK, runMoveJob } from './move-jobs.ts';
import { enqueue, JobRunner } from './queue.ts';
import { ACCOUNT_CLEANUP_TASK, cronSchedules, cronTick, RECONCILE_TASK } from './schedules.ts';

export interface Jobs {
  mail: MailQueue;
  /** Extra tasks (tests: a task that always throws); add before the app is ready. */
  extraTasks: TaskList;
  /** The runner of this process, once started (undefined with JOBS_CONCURRENCY=0). */
  runner: JobRunner | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    jobs: Jobs;
  }
}

/** pg_stat_activity.application_name of the job runner's connections. */
export const JOB_RUNNER_APPLICATION_NAME = 'tenantry-jobs';

export const jobsPlugin = fp(
  async (app: FastifyInstance) => {
    const { core } = app;
    const { config } = core;
    const mailer = createMailer(config);
    const jobs: Jobs = {
      mail: new MailQueue(core.hosts.db(DEFAULT_HOST), config.mailMaxAttempts),
      extraTasks: {},
      runner: undefined,
    };
    app.decorate('jobs', jobs);
    const log = app.log as unknown as pino.Logger;

    const tasks = (): TaskList => ({
      [FLEET_TASK]: async (payload, helpers) => {
        const jobId = (payload as { job_id?: unknown } | null)?.job_id;
        if (typeof jobId !== 'string') throw new Error('fleet-migrate: payload without job_id');
        await runFleetJob(core, jobId, helpers.abortSignal, (tenantId) =>
          app.registryCache.invalidate(tenantId),
        );
      },
      [MOVE_TASK]: async (payload) => {
        const moveId = (payload as { move_id?: unknown } | null)?.move_id;
        if (typeof moveId !== 'string') throw new Error('tenant-move: payload without move_id');
        await runMoveJob(core, moveId, (tenantId) => app.registryCache.invalidate(tenantId));
      },
      [MAIL_TASK]: async (payload, helpers) => {
        if (!isMailMessage(payload)) throw new Error('send-mail: payload is not an e-mail');
        const { message, commit } = splitMailPayload(payload);
        if (commit && !(await tenantCommitted(core.hosts, commit, helpers.abortSignal))) {
          log.info(
            { host: commit.host, xid: commit.xid },
            'e-mail not sent: its tenant transaction rolled back',
          );
          return;
        }
        await mailer.send(message);
      },
      [PRUNE_AUTH_TASK]: async () => {
        const pruned = await pruneAuthTokens(core);
        log.info(pruned, 'pruned expired sessions and one-time tokens');
      },
      // One line per pass with the cron tick it ran for: one tick, one line across every process.
      [RECONCILE_TASK]: async (payload) => {
        const report = await reconcile(core, config.reconcileAfterS);
        for (const tenantId of [...report.finished, ...report.undone]) app.registryCache.invalidate(tenantId);
        log.info({ task: RECONCILE_TASK, tick: cronTick(payload) ?? null, ...report }, 'reconciliation pass');
      },
      [ACCOUNT_CLEANUP_TASK]: async (payload) => {
        const report = await app.accounts.cleanUp();
        log.info(
          { task: ACCOUNT_CLEANUP_TASK, tick: cronTick(payload) ?? null, ...report },
          'account clean-up pass',
        );
      },
      [SCHEMA_POOL_REFILL_TASK]: async () => {
        const refilled = await core.schemaPool.refill();
        if (refilled.created + refilled.upgraded > 0) log.info(refilled, 'schema pool refilled');
      },
      [PRUNE_FEED_TASK]: async () => {
        const pruned = await pruneChangeFeeds(core);
        log.info(pruned, 'pruned change-feed events past their retention');
      },
      [WEBHOOK_TASK]: async (payload) => {
        if (!isDeliverPayload(payload))
          throw new Error('webhook-deliver: payload without tenant and webhook');
        await runDelivery({ core, mail: jobs.mail }, payload);
      },
      [WEBHOOK_SWEEP_TASK]: async () => {
        await sweepWebhooks(core);
      },
      [PRUNE_IDEMPOTENCY_TASK]: async () => {
        const pruned = await pruneIdempotencyKeys(core);
        log.info(pruned, 'pruned expired idempotency keys');
      },
      ...jobs.extraTasks,
    });

    let pool: pg.Pool | undefined;
    let closed = false;
    let retry: NodeJS.Timeout | undefined;
    const startRunner = async (): Promise<void> => {
      const db = core.hosts.db(DEFAULT_HOST);
      // The queue's schema comes from the public migrations (revision 495e6c3295bd), never from the
      // library at run time: without it this process serves but runs no jobs, and says so.
      const installed = await sql<{ ok: boolean }>`
        SELECT to_regclass('graphile_worker.migrations') IS NOT NULL AS ok`.execute(db);
      if (!installed.rows[0]?.ok) {
        log.error('the job queue schema is missing (migrate the public schema); background jobs are not run');
        return;
      }
      // Named apart from request connections so operators (and tests counting a request's queries) can
      // tell the job runner's polling and heartbeats from request traffic in pg_stat_activity.
      pool = new pg.Pool({
        connectionString: core.hosts.url(DEFAULT_HOST),
        max: config.jobsConcurrency + 2,
        application_name: JOB_RUNNER_APPLICATION_NAME,
      });
      // A connection lost while idle (database restarted) must not crash the process; the runner
      // reconnects (graphile-worker also checks both handlers exist).
      pool.on('error', () => {});
      pool.on('connect', (client) => client.on('error', () => {}));
      const runner = new JobRunner(
        pool,
        db,
        {
          concurrency: config.jobsConcurrency,
          pollIntervalMs: config.jobsPollIntervalMs,
          heartbeatMs: config.jobsHeartbeatMs,
          shutdownAbortMs: 5_000,
        },
        log,
      );
      await runner.start(tasks(), cronSchedules(config));
      jobs.runner = runner;
      // Fill the warm pool now rather than at the next cron tick (one refill queued, whatever the workers).
      if (core.schemaPool.size > 0)
        await enqueue(db, SCHEMA_POOL_REFILL_TASK, {}, { jobKey: SCHEMA_POOL_REFILL_TASK });
    };
    // A database that is down when the server starts must not stop it from serving (its routes answer
    // 503 meanwhile): the runner starts once the database answers, trying again every 5 s.
    const startWhenReachable = async (): Promise<void> => {
      try {
        await startRunner();
      } catch (error) {
        await pool?.end().catch(() => {});
        pool = undefined;
        if (closed) return;
        log.warn({ err: error }, 'job runner not started (database unreachable); retrying in 5 s');
        retry = setTimeout(() => void startWhenReachable(), 5_000);
        retry.unref();
      }
    };
    app.addHook('onReady', async () => {
      if (config.jobsConcurrency === 0) return;
      await startWhenReachable();
    });
    app.addHook('onClose', async () => {
      closed = true;
      clearTimeout(retry);
      await jobs.runner?.stop();
      jobs.runner = undefined;
      await pool?.end();
      mailer.close();
    });
  },
  { name: 'tenantry-jobs', fastify: '5.x', dependencies: ['tenantry-tenancy'] },
);
