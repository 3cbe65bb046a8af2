/**
 * Scheduled work (issue 16, "Scheduled work through the queue's cron"). graphile-worker's cron claims each
 * tick in `graphile_worker._private_known_crontabs` (an UPDATE that only one process wins) and inserts one
 * job for it, so every task below runs once per schedule across all processes and machines, by whichever
 * process takes the job — not once per process on a timer, as the reconciler and the account clean-up
 * did before.
 *
 *  - `prune-auth-tokens`  hourly at :17 (src/jobs/cleanup.ts)
 *  - `reconcile-tenants`  every RECONCILE_INTERVAL_S, rounded to whole minutes (src/tenancy/reconciler.ts);
 *                         also once per server start (`enqueueStartupReconcile`)
 *  - `account-cleanup`    every 15 minutes: unverified sign-ups past UNVERIFIED_SIGNUP_HOURS and ended
 *                         rate-limit windows (src/auth/account-cleanup.ts)
 *  - `schema-pool-refill` every 5 minutes: the warm pool of tenant schemas (src/tenancy/schema-pool.ts)
 *  - `prune-change-feed`  daily at 03:47: change-feed events past FEED_RETENTION_DAYS (src/jobs/cleanup.ts)
 *  - `prune-idempotency-keys` hourly at :23: Idempotency-Key answers past their 24 hours
 *  - `webhook-sweep`      every 5 minutes: deliveries for changes made outside requests
 */
import type { Config } from '../config.ts';
import type { Core } from '../core.ts';
import { DEFAULT_HOST } from '../db/hosts.ts';
import { WEBHOOK_SWEEP_TASK } from '../routes/webhooks/delivery.ts';
import { SCHEMA_POOL_REFILL_TASK } from '../tenancy/schema-pool.ts';
import { PRUNE_AUTH_TASK, PRUNE_FEED_TASK, PRUNE_IDEMPOTENCY_TASK } from './cleanup.ts';
import { type CronTask, enqueue } from './queue.ts';

export const RECONCILE_TASK = 'reconcile-tenants';
export const ACCOUNT_CLEANUP_TASK = 'account-cleanup';
/** Expired sign-ups wait at most this long past their time (the timer's interval before the queue). */
const ACCOUNT_CLEANUP_PATTERN = '*/15 * * * *';
/** Job key of the start-up pass: processes starting together enqueue one job, not one each. */
const STARTUP_RECONCILE_KEY = `${RECONCILE_TASK}:startup`;

/**
 * A five-field cron pattern for "every `seconds`": cron counts whole minutes, so the interval is rounded
 * to the nearest minute (at least one), then to whole hours past 59 minutes (at most daily). A step that
 * does not divide 60 (or 24) restarts at the top of the hour (or day): `*\/7` runs at :00, :07 … :56.
 */
export function everyPattern(seconds: number): string {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes === 1) return '* * * * *';
  if (minutes < 60) return `*/${minutes} * * * *`;
  const hours = Math.min(24, Math.round(minutes / 60));
  return hours === 24 ? '0 0 * * *' : hours === 1 ? '0 * * * *' : `0 */${hours} * * *`;
}

/** Every cron schedule of the server (UTC). */
export function cronSchedules(config: Pick<Config, 'reconcileIntervalS'>): CronTask[] {
  return [
    { task: PRUNE_AUTH_TASK, pattern: '17 * * * *' },
    { task: RECONCILE_TASK, pattern: everyPattern(config.reconcileIntervalS) },
    { task: ACCOUNT_CLEANUP_TASK, pattern: ACCOUNT_CLEANUP_PATTERN },
    // Besides the refill each claim enqueues: fills the pool after a start or a deploy (new revision).
    { task: SCHEMA_POOL_REFILL_TASK, pattern: '*/5 * * * *' },
    { task: PRUNE_FEED_TASK, pattern: '47 3 * * *' },
    { task: PRUNE_IDEMPOTENCY_TASK, pattern: '23 * * * *' },
    // Deliveries are also started by each write; the sweep catches changes made outside requests.
    { task: WEBHOOK_SWEEP_TASK, pattern: '*/5 * * * *' },
  ];
}

/**
 * The pass at start: rows a crash left `provisioning` block their tenant ids until reconciled, and the
 * first cron tick may be a while away. A job, so it runs wherever jobs run (the workers of a cluster).
 */
export async function enqueueStartupReconcile(core: Core): Promise<void> {
  await enqueue(
    core.hosts.db(DEFAULT_HOST),
    RECONCILE_TASK,
    {},
    { jobKey: STARTUP_RECONCILE_KEY, maxAttempts: 3 },
  );
}

/** The tick a cron job was scheduled for (`payload._cron.ts`), undefined for a job enqueued by hand. */
export function cronTick(payload: unknown): string | undefined {
  const cron = (payload as { _cron?: { ts?: unknown } } | null)?._cron;
  return typeof cron?.ts === 'string' ? cron.ts : undefined;
}
