/**
 * The account e-mails. Links follow SPEC 4: `{APP_URL}/verify-email/{token}`,
 * `{APP_URL}/reset-password/{token}`, `{APP_URL}/accept-invite/{token}`; the front end posts the token
 * back. Every interpolated value is HTML-escaped (names come from users).
 */
import type { MailMessage } from './mailer.ts';

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function compose(to: string, subject: string, lines: string[], link: string, action: string): MailMessage {
  const text = `${lines.join('\n\n')}\n\n${link}\n`;
  const html = `<!doctype html><html><body>${lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('')}<p><a href="${escapeHtml(link)}">${escapeHtml(action)}</a></p></body></html>`;
  return { to, subject, text, html };
}

export interface LinkMail {
  to: string;
  firstName: string;
  appUrl: string;
  token: string;
}

export function verificationMail(input: LinkMail & { company: string }): MailMessage {
  return compose(
    input.to,
    'Confirm your e-mail address',
    [
      `Hello ${input.firstName},`,
      `welcome to Tenantry! Please confirm your e-mail address to activate ${input.company}.`,
      'The link is valid for 48 hours.',
    ],
    `${input.appUrl}/verify-email/${encodeURIComponent(input.token)}`,
    'Confirm e-mail address',
  );
}

export function passwordResetMail(input: LinkMail): MailMessage {
  return compose(
    input.to,
    'Reset your password',
    [
      `Hello ${input.firstName},`,
      'someone (hopefully you) asked to reset your Tenantry password. If it was not you, ignore this e-mail.',
      'The link is valid for 1 hour.',
    ],
    `${input.appUrl}/reset-password/${encodeURIComponent(input.token)}`,
    'Choose a new password',
  );
}

export function invitationMail(input: LinkMail & { inviter: string; company: string }): MailMessage {
  return compose(
    input.to,
    `You are invited to ${input.company} on Tenantry`,
    [
      `Hello ${input.firstName},`,
      `${input.inviter} invited you to join ${input.company} on Tenantry. Choose a password to start.`,
      'The link is valid for 7 days.',
    ],
    `${input.appUrl}/accept-invite/${encodeURIComponent(input.token)}`,
    'Accept the invitation',
  );
}
