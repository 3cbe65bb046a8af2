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
 */
import { type AnyDb, DEFAULT_HOST } from '../db/hosts.ts';
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
   * For work in a tenant's transaction: on the default host the e-mail joins that transaction; a tenant
   * on another host cannot share a transaction with the queue, so `after` enqueues it once the tenant's
   * transaction has committed (a crash in between loses that e-mail; the user can ask again).
   */
  async enqueueForTenant(
    host: string,
    trx: AnyDb,
    message: MailMessage,
    key: string,
  ): Promise<() => Promise<void>> {
    if (host === DEFAULT_HOST) {
      await this.enqueue(trx, message, key);
      return async () => {};
    }
    return () => this.enqueue(this.defaultDb, message, key);
  }
}

export function isMailMessage(payload: unknown): payload is MailMessage {
  if (payload === null || typeof payload !== 'object') return false;
  const p = payload as Record<string, unknown>;
  return ['to', 'subject', 'text', 'html'].every((field) => typeof p[field] === 'string');
}
