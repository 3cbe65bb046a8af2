/**
 * The development mail sink: `<timestamp>-<id>.eml` (rendered by nodemailer exactly as it would go over
 * SMTP) and `<timestamp>-<id>.json` ({to, from, subject, text, html, sent_at}) per message. File names
 * sort by time. The `.json` is written last and renamed into place, so a reader that sees it finds both
 * files complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from './mailer.ts';

export interface OutboxEntry {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  sent_at: string;
}

export class OutboxMailer implements Mailer {
  private readonly renderer: Transporter;

  constructor(
    readonly folder: string,
    private readonly from: string,
  ) {
    this.renderer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  async send(message: MailMessage): Promise<void> {
    const sentAt = new Date();
    const info = await this.renderer.sendMail({ from: this.from, ...message, date: sentAt });
    const eml = info.message;
    if (!Buffer.isBuffer(eml)) throw new Error('nodemailer did not render the message to a buffer');
    const base = `${sentAt.toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
    await mkdir(this.folder, { recursive: true });
    await writeFile(path.join(this.folder, `${base}.eml`), eml);
    const entry: OutboxEntry = { from: this.from, ...message, sent_at: sentAt.toISOString() };
    const partial = path.join(this.folder, `.${base}.json.partial`);
    await writeFile(partial, `${JSON.stringify(entry, null, 2)}\n`);
    await rename(partial, path.join(this.folder, `${base}.json`));
  }

  close(): void {
    this.renderer.close();
  }
}
