/**
 * Delivering webhooks (issue 19) on the job queue. A webhook is a consumer of the change feed with its
 * own cursor (`delivered_through`): the `webhook-deliver` job of a webhook sends the events after it, in
 * feed order, one at a time, moving the cursor after each 2xx. Every job of one webhook carries the same
 * graphile-worker `queue_name`, so they never run side by side: order per subscription holds.
 *
 *  - At least once: the cursor moves only after the receiver said 2xx, so a crash between the answer and
 *    the update sends that event again — with the same `id` (and `Tenantry-Event-Id`) to notice it.
 *  - A failure stops the webhook at that event and schedules the same job again after a back-off
 *    (WEBHOOK_RETRY_FIRST_MS, doubling, at most an hour apart); new events do not hurry it
 *    (`preserve_run_at`). Still failing WEBHOOK_GIVE_UP_S (a day) after its first failure, the webhook is
 *    disabled and the tenant's owners get an e-mail; re-enabling it (PATCH enabled=true) resumes there.
 *  - Every attempt is logged in webhook_deliveries; a logged delivery can be sent again by hand.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Config } from '../../config.ts';
import type { Core } from '../../core.ts';
import { DEFAULT_HOST } from '../../db/hosts.ts';
import type { MailQueue } from '../../jobs/mail-jobs.ts';
import { enqueue } from '../../jobs/queue.ts';
import { eventsAfter, type FeedEvent, toFeedEvent } from '../sync/feed.ts';
import { todoDb } from '../tasks/tables.ts';
import { checkedAddresses } from './address-guard.ts';
import { signatureHeader } from './signature.ts';
import { matchesTypes, type WebhookDb, webhookDb } from './tables.ts';

export const WEBHOOK_TASK = 'webhook-deliver';
export const WEBHOOK_SWEEP_TASK = 'webhook-sweep';
const MAX_DELAY_MS = 3_600_000;
const BATCH = 50;

export interface DeliverPayload {
  tenant: string;
  webhook: string;
  /** A logged delivery to send again (manual redelivery): that event only, once. */
  redeliver?: string;
}

export function isDeliverPayload(payload: unknown): payload is DeliverPayload {
  const p = payload as Partial<DeliverPayload> | null;
  return typeof p?.tenant === 'string' && typeof p.webhook === 'string';
}

const queueOf = (tenant: string, webhook: string) => `webhook:${tenant}:${webhook}`;

/**
 * Asks for the webhook's job: at once (`runAt` absent; a retry already scheduled keeps its time) or at
 * `runAt` (a retry). `db` is the job queue's database (the default host).
 */
export async function scheduleDelivery(
  queueDb: Parameters<typeof enqueue>[0],
  tenant: string,
  webhook: string,
  runAt?: Date,
): Promise<void> {
  const queue = queueOf(tenant, webhook);
  await enqueue(
    queueDb,
    WEBHOOK_TASK,
    { tenant, webhook },
    {
      jobKey: queue,
      queueName: queue,
      runAt,
      jobKeyMode: runAt ? 'replace' : 'preserve_run_at',
      maxAttempts: 5,
    },
  );
}

/** A redelivery rides the webhook's queue too (no key: each request is one send). */
export async function scheduleRedelivery(
  queueDb: Parameters<typeof enqueue>[0],
  tenant: string,
  webhook: string,
  delivery: string,
): Promise<void> {
  await enqueue(
    queueDb,
    WEBHOOK_TASK,
    { tenant, webhook, redeliver: delivery },
    { queueName: queueOf(tenant, webhook), maxAttempts: 1 },
  );
}

export interface SendResult {
  ok: boolean;
  status: number | null;
  error: string | null;
  ms: number;
}

/** POSTs one event, signed; connects only to addresses the guard accepts (checked at this lookup). */
export async function send(
  config: Config,
  hook: { url: string; secret: string },
  tenant: string,
  event: FeedEvent,
): Promise<SendResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null): SendResult => ({
    ok: status !== null && status >= 200 && status < 300,
    status,
    error,
    ms: Math.round(performance.now() - started),
  });
  const body = JSON.stringify({ ...event, tenant });
  const url = new URL(hook.url);
  try {
    // IP literals never reach `lookup`: check them here (names are checked again at connect below).
    await checkedAddresses(url.hostname, config.webhookAllowPrivate);
  } catch (error) {
    return done(null, (error as Error).message);
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    checkedAddresses(hostname, config.webhookAllowPrivate).then(
      (answers) => {
        if (options.all) callback(null, answers);
        else callback(null, answers[0]?.address ?? '', answers[0]?.family ?? 4);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(
      url,
      {
        method: 'POST',
        lookup,
        timeout: config.webhookTimeoutMs,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tenantry-Webhooks/1',
          'tenantry-event-id': event.id,
          'tenantry-event-type': event.type,
          'tenantry-signature': signatureHeader(hook.secret, body, Math.floor(Date.now() / 1000)),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(done(response.statusCode ?? null, null)));
        response.on('error', (error) => resolve(done(response.statusCode ?? null, error.message)));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${config.webhookTimeoutMs} ms`)));
    request.on('error', (error) => resolve(done(null, error.message)));
    request.end(body);
  });
}

async function logDelivery(
  db: WebhookDb,
  webhookId: string,
  event: FeedEvent,
  attempt: number,
  result: SendResult,
  manual = false,
): Promise<void> {
  await db
    .insertInto('webhook_deliveries')
    .values({
      webhook_id: webhookId,
      event_id: event.id,
      event_type: event.type,
      attempt,
      manual,
      succeeded: result.ok,
      status_code: result.status,
      error: result.error?.slice(0, 500) ?? (result.ok ? null : `HTTP ${result.status}`),
      duration_ms: result.ms,
    })
    .execute();
}

export interface DeliveryDeps {
  core: Core;
  mail: MailQueue;
}

/** The `webhook-deliver` task. */
export async function runDelivery(deps: DeliveryDeps, payload: DeliverPayload): Promise<void> {
  const { core } = deps;
  const tenant = await core.registry.find(payload.tenant);
  if (!tenant || !core.hosts.has(tenant.host)) return;
  const db = webhookDb(core.hosts.db(tenant.host).withSchema(tenant.tenant_id));
  if (payload.redeliver) return redeliver(deps, db, payload);
  for (;;) {
    const hook = await db
      .selectFrom('webhooks')
      .selectAll()
      .where('uuid', '=', payload.webhook)
      .executeTakeFirst();
    if (!hook?.enabled) return;
    const rows = await eventsAfter(todoDb(db), BigInt(hook.delivered_through), BATCH);
    if (rows.length === 0) return;
    let through = hook.delivered_through;
    for (const row of rows) {
      const event = toFeedEvent(row);
      if (!matchesTypes(hook.event_types, event.type)) {
        through = event.id;
        continue;
      }
      const attempt = hook.attempts + 1;
      const result = await send(core.config, hook, tenant.tenant_id, event);
      await logDelivery(db, hook.id, event, attempt, result);
      if (result.ok) {
        through = event.id;
        hook.attempts = 0;
        hook.failing_since = null;
        await db
          .updateTable('webhooks')
          .set({ delivered_through: through, attempts: 0, failing_since: null })
          .where('id', '=', hook.id)
          .execute();
        continue;
      }
      await failed(deps, db, tenant.tenant_id, { ...hook, delivered_through: through }, attempt, result);
      return;
    }
    await db.updateTable('webhooks').set({ delivered_through: through }).where('id', '=', hook.id).execute();
    if (rows.length < BATCH) return;
  }
}

/** A failed attempt: retry later with back-off, or give up (disable, tell the owners). */
async function failed(
  deps: DeliveryDeps,
  db: WebhookDb,
  tenant: string,
  hook: { id: string; uuid: string; url: string; failing_since: Date | null; delivered_through: string },
  attempt: number,
  result: SendResult,
): Promise<void> {
  const { config } = deps.core;
  const since = hook.failing_since ?? new Date();
  if (Date.now() - since.getTime() >= config.webhookGiveUpS * 1000) {
    const reason = `failing since ${since.toISOString()} (${attempt} attempts; last: ${result.error ?? `HTTP ${result.status}`})`;
    await db
      .updateTable('webhooks')
      .set({
        enabled: false,
        disabled_reason: reason,
        delivered_through: hook.delivered_through,
        attempts: attempt,
        updated_at: new Date(),
      })
      .where('id', '=', hook.id)
      .execute();
    await mailOwners(deps, db, tenant, hook, reason);
    return;
  }
  await db
    .updateTable('webhooks')
    .set({ delivered_through: hook.delivered_through, attempts: attempt, failing_since: since })
    .where('id', '=', hook.id)
    .execute();
  const delay = Math.min(config.webhookRetryFirstMs * 2 ** (attempt - 1), MAX_DELAY_MS);
  await scheduleDelivery(deps.core.hosts.db(DEFAULT_HOST), tenant, hook.uuid, new Date(Date.now() + delay));
}

async function mailOwners(
  deps: DeliveryDeps,
  db: WebhookDb,
  tenant: string,
  hook: { uuid: string; url: string },
  reason: string,
): Promise<void> {
  const owners = await db
    .selectFrom('users as u')
    .innerJoin('roles as r', 'r.id', 'u.role_id')
    .select('u.email')
    .where('r.name', '=', 'OWNER')
    .where('u.deleted_at', 'is', null)
    .where('u.is_active', '=', true)
    .execute();
  const text =
    `The webhook ${hook.uuid} of ${tenant} (${hook.url}) has been disabled: deliveries are ${reason}.\n` +
    'Fix the receiver, then enable it again (PATCH /webhooks/{id} {"enabled": true}): it resumes with the first undelivered event.';
  for (const { email } of owners) {
    await deps.mail.enqueue(
      deps.core.hosts.db(DEFAULT_HOST),
      { to: email, subject: `Webhook disabled: ${hook.url}`, text, html: `<p>${escapeHtml(text)}</p>` },
      `mail:webhook-disabled:${tenant}:${hook.uuid}:${email}:${Date.now()}`,
    );
  }
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

async function redeliver(deps: DeliveryDeps, db: WebhookDb, payload: DeliverPayload): Promise<void> {
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .select(['w.id', 'w.url', 'w.secret', 'd.event_id'])
    .where('d.uuid', '=', payload.redeliver ?? '')
    .where('w.uuid', '=', payload.webhook)
    .executeTakeFirst();
  if (!row) return;
  const [event] = await eventsAfter(todoDb(db), BigInt(row.event_id) - 1n, 1);
  if (!event || event.id !== row.event_id) return;
  const feedEvent = toFeedEvent(event);
  const result = await send(deps.core.config, row, payload.tenant, feedEvent);
  await logDelivery(db, row.id, feedEvent, 1, result, true);
}

/**
 * The `webhook-sweep` cron task: asks for a delivery job for every enabled webhook that is behind the
 * feed's head, in every tenant — the safety net for changes no request announced (a CLI, an operator).
 */
export async function sweepWebhooks(core: Core): Promise<number> {
  const tenants = await core.registry.list({ statuses: ['active', 'suspended'] });
  let scheduled = 0;
  for (const tenant of tenants) {
    if (!core.hosts.has(tenant.host)) continue;
    try {
      const db = webhookDb(core.hosts.db(tenant.host).withSchema(tenant.tenant_id));
      const behind = await db
        .selectFrom('webhooks')
        .select('uuid')
        .where('enabled', '=', true)
        .where('delivered_through', '<', db.selectFrom('change_head').select('last_id'))
        .execute();
      for (const { uuid } of behind)
        await scheduleDelivery(core.hosts.db(DEFAULT_HOST), tenant.tenant_id, uuid);
      scheduled += behind.length;
    } catch {
      // A tenant mid-migration (no webhooks table yet) or on a host that is down: next sweep.
    }
  }
  return scheduled;
}

/**
 * Which webhooks of a tenant are enabled, cached per process for a minute so a tenant without webhooks
 * costs its writes no query (a webhook created in another process is found by the cron sweep meanwhile).
 * This process's own changes to webhooks clear the entry at once (`forgetWebhooks`).
 */
const CACHE_MS = 60_000;
const enabledHooks = new Map<string, { uuids: string[]; until: number }>();

export function forgetWebhooks(tenant: string): void {
  enabledHooks.delete(tenant);
}

/** After a tenant write: ask for the delivery jobs of its enabled webhooks. */
export async function announceChanges(core: Core, tenant: string, host: string): Promise<void> {
  let known = enabledHooks.get(tenant);
  if (!known || known.until < Date.now()) {
    const db = webhookDb(core.hosts.db(host).withSchema(tenant));
    const rows = await db.selectFrom('webhooks').select('uuid').where('enabled', '=', true).execute();
    known = { uuids: rows.map((row) => row.uuid), until: Date.now() + CACHE_MS };
    enabledHooks.set(tenant, known);
  }
  for (const uuid of known.uuids) await scheduleDelivery(core.hosts.db(DEFAULT_HOST), tenant, uuid);
}
