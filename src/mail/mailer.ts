/**
 * Outgoing e-mail (SPEC 1, 4): nodemailer over SMTP when SMTP_URL is set, otherwise the outbox folder
 * (`<dataDir>/outbox`), one `.eml` (the exact message SMTP would carry) and one `.json` per message, so a
 * developer can read verification and invitation links without a mail server.
 */
import path from 'node:path';
import type { Config } from '../config.ts';
import { OutboxMailer } from './outbox.ts';
import { SmtpMailer } from './smtp.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** Resolves once the message is written or accepted by the SMTP server; rejects otherwise. */
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'dataDir'>): Mailer {
  if (config.smtpUrl) return new SmtpMailer(config.smtpUrl, config.mailFrom);
  return new OutboxMailer(path.resolve(config.dataDir, 'outbox'), config.mailFrom);
}
