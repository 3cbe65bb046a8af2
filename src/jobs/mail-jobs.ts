/**
 * E-mail as a transactional outbox (issue 16). A flow that creates rows and an e-mail (sign-up,
 * invitation, password reset) enqueues a `send-mail` job in the same transaction: the e-mail exists if
 * and only if the rows do, and the request neither waits for nor fails because of the mail server.
 *
 * The `send-mail` task hands the message to the mailer (SMTP or the outbox folder, src/mail/); a refusal
 * throws and graphile-worker retries it with exponential back-off (e^attempt seconds) up to
 * MAIL_MAX_ATTEMPTS, after which the job stays in the queue as failed (`tenantry jobs list --failed`).
 * A job key per message purpose (e.g. `mail:verify:<tenant>:<user>`) makes a re-enqueue of a message
 * still waiting replace it rather than add a second one. Delivery is at least once: a process killed
 * after the SMTP server accepted a message but before the job was marked done sends it again.
 * Messages of tenants on another host are enqueued before their transaction commits and sent only if it
 * did (`enqueueForTenant`, `tenantCommitted`).
 */
import { sql } from 'kysely';
import { type AnyDb, type DatabaseHosts, DEFAULT_HOST } from '../db/hosts.ts';
import type { MailMessage } from '../mail/mailer.ts';
import { enqueue } from './queue.ts';

export const MAIL_TASK = 'send-mail';

export class MailQueue {
  constructor(
    /** The default host, where the queue lives. */
    private readonly defaultDb: AnyDb,
    private readonly maxAttempts: number,
  ) {}

  /** Enqueues in `db`'s transaction; `db` must be on the default host. */
  async enqueue(db: AnyDb, message: MailMessage, key: string): Promise<void> {
    await enqueue(db, MAIL_TASK, message, { jobKey: key, maxAttempts: this.maxAttempts });
  }

  /**
   * For work in a tenant's transaction. On the default host the e-mail joins that transaction. A tenant
   * on another host cannot share a transaction with the queue (default host), so the job is enqueued at
   * once — before the tenant's transaction commits — carrying that transaction's id on its host
   * (`pg_current_xact_id()`); the `send-mail` task sends only once that transaction is known to have
   * committed, and drops the message if it rolled back (`tenantCommitted`). A crash before the commit
   * leaves a job that sends nothing; a crash after it leaves a job that sends: nothing is lost and nothing
   * sent for rows that never existed. The transaction id joins the job key, so a waiting message of a
   * transaction that committed is never replaced by one of a transaction that rolled back.
   */
  async enqueueForTenant(host: string, trx: AnyDb, message: MailMessage, key: string): Promise<void> {
    if (host === DEFAULT_HOST) {
      await this.enqueue(trx, message, key);
      return;
    }
    const result = await sql<{ xid: string }>`SELECT pg_current_xact_id()::text AS xid`.execute(trx);
    const xid = result.rows[0]!.xid;
    const payload: TenantMailPayload = { ...message, tenant_commit: { host, xid } };
    await enqueue(this.defaultDb, MAIL_TASK, payload, {
      jobKey: `${key}:${host}:${xid}`,
      maxAttempts: this.maxAttempts,
    });
  }
}

/** A message whose rows were written on another host by transaction `xid` there. */
export interface TenantMailPayload extends MailMessage {
  tenant_commit?: { host: string; xid: string };
}

/** How long the task waits for a tenant transaction still in progress before retrying later. */
const IN_PROGRESS_WAIT_MS = 10_000;

export class TenantTransactionOpenError extends Error {
  override name = 'TenantTransactionOpenError';
  constructor(host: string, xid: string) {
    super(`transaction ${xid} on host ${host} is still in progress; the e-mail waits for its outcome`);
  }
}

/**
 * Whether the tenant transaction that wrote the e-mail's rows committed: `pg_xact_status` on its host
 * answers committed, aborted or in progress (waited for, up to IN_PROGRESS_WAIT_MS, then
 * TenantTransactionOpenError so the job retries with back-off). A process killed mid-transaction leaves
 * it aborted once PostgreSQL sees the connection gone. NULL (the id is older than the commit log
 * PostgreSQL keeps — billions of transactions later) cannot be told apart: sent, rather than lost.
 */
export async function tenantCommitted(
  hosts: DatabaseHosts,
  commit: { host: string; xid: string },
  signal?: AbortSignal,
): Promise<boolean> {
  const db = hosts.db(commit.host);
  const deadline = Date.now() + IN_PROGRESS_WAIT_MS;
  for (;;) {
    const result = await sql<{ status: string | null }>`
      SELECT pg_xact_status(${commit.xid}::xid8) AS status`.execute(db);
    const status = result.rows[0]?.status ?? null;
    if (status !== 'in progress') return status !== 'aborted';
    if (Date.now() > deadline || signal?.aborted)
      throw new TenantTransactionOpenError(commit.host, commit.xid);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The message alone (what the mailer sends), and the commit to wait for, if any. */
export function splitMailPayload(payload: TenantMailPayload): {
  message: MailMessage;
  commit: { host: string; xid: string } | undefined;
} {
  const { tenant_commit: commit, ...message } = payload;
  return { message, commit };
}

export function isMailMessage(payload: unknown): payload is MailMessage {
  if (payload === null || typeof payload !== 'object') return false;
  const p = payload as Record<string, unknown>;
  return ['to', 'subject', 'text', 'html'].every((field) => typeof p[field] === 'string');
}
