/**
 * The whole newcomer flow of issue 5, through HTTP against real PostgreSQL, once with the outbox folder
 * and once over real SMTP (an smtp-server peer on 127.0.0.1): register → verification e-mail → verify →
 * login → /auth/me → invite a user → the user sets a password from the e-mail → logs in → logout → the
 * old token is refused.
 */
import { readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { App } from '../../src/app.ts';
import {
  accountsApp,
  linkToken,
  mailTo,
  outboxEntries,
  PASSWORD,
  randomIp,
  registerBody,
  uniqueEmail,
} from './helpers.ts';

interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** The flow, given a way to read the newest message to an address. */
async function newcomerFlow(app: App, mailTo: (to: string, subject: RegExp) => Promise<Mail>) {
  const body = registerBody({ company_name: 'Żółta Łódź sp. z o.o.', tz: 'Europe/Warsaw', lang: 'pl' });
  const registered = await app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: body,
    remoteAddress: randomIp(),
  });
  expect(registered.statusCode, registered.body).toBe(201);
  const { tenant_id: tenant, user, verification } = registered.json();
  expect(verification).toBe('sent');
  expect(tenant).toMatch(/^zolta_lodz_sp_z_o_o_[0-9a-f]{12}$/);
  expect(user).toMatchObject({ email: body.email, first_name: 'Ada', tz: 'Europe/Warsaw', lang: 'pl' });

  // Not verified yet: the right password learns that, a wrong one learns nothing.
  const early = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: body.email, password: PASSWORD },
  });
  expect(early.statusCode).toBe(403);

  const verificationMail = await mailTo(body.email, /Confirm your e-mail/);
  const verifyToken = linkToken(verificationMail.text, 'verify-email');
  expect(verificationMail.text).toContain(`http://localhost:3000/verify-email/${tenant}.`);
  const verified = await app.inject({
    method: 'POST',
    url: '/auth/verify-email',
    payload: { token: verifyToken },
  });
  expect(verified.statusCode, verified.body).toBe(200);
  expect(verified.json()).toMatchObject({
    tenant_id: tenant,
    role: { name: 'OWNER' },
    user: { uuid: user.uuid },
  });

  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: body.email.toUpperCase(), password: PASSWORD, permanent: true },
    headers: { 'user-agent': 'vitest' },
  });
  expect(login.statusCode, login.body).toBe(200);
  const session = login.json();
  expect(Object.keys(session).sort()).toEqual([
    'auth_token',
    'expires_at',
    'permissions',
    'role',
    'tenant_id',
    'user',
  ]);
  expect(session.auth_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const days = (Date.parse(session.expires_at) - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(29.9);
  expect(session.permissions).toContain('ROLE_MANAGE');
  const owner = { tenant, authorization: `Bearer ${session.auth_token}` };

  const me = await app.inject({ method: 'GET', url: '/auth/me', headers: owner });
  expect(me.statusCode).toBe(200);
  expect(me.json()).toMatchObject({
    tenant_id: tenant,
    user: { email: body.email },
    role: { name: 'OWNER' },
  });

  // Invite a colleague (no password → invitation e-mail).
  const colleague = uniqueEmail('colleague');
  const invited = await app.inject({
    method: 'POST',
    url: '/users/',
    headers: owner,
    payload: { email: colleague, first_name: 'Grace', last_name: 'Hopper' },
  });
  expect(invited.statusCode, invited.body).toBe(201);
  expect(invited.json()).toMatchObject({ email: colleague, is_verified: false, role: { name: 'MEMBER' } });

  const invitation = await mailTo(colleague, /invited/);
  expect(invitation.subject).toContain('Żółta Łódź');
  const inviteToken = linkToken(invitation.text, 'accept-invite');
  const accepted = await app.inject({
    method: 'POST',
    url: '/auth/accept-invite',
    payload: { token: inviteToken, password: 'grace-password-1' },
  });
  expect(accepted.statusCode, accepted.body).toBe(200);
  expect(accepted.json()).toMatchObject({
    tenant_id: tenant,
    user: { email: colleague },
    role: { name: 'MEMBER' },
  });

  const graceLogin = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: colleague, password: 'grace-password-1' },
  });
  expect(graceLogin.statusCode).toBe(200);
  const grace = { tenant, authorization: `Bearer ${graceLogin.json().auth_token}` };
  expect((await app.inject({ method: 'GET', url: '/auth/me', headers: grace })).statusCode).toBe(200);

  const logout = await app.inject({ method: 'POST', url: '/auth/logout', headers: grace });
  expect(logout.statusCode).toBe(204);
  const after = await app.inject({ method: 'GET', url: '/auth/me', headers: grace });
  expect(after.statusCode).toBe(401);
  expect(after.headers['content-type']).toContain('application/problem+json');
  // The owner's sessions are untouched by Grace's logout (one session per device).
  expect((await app.inject({ method: 'GET', url: '/auth/me', headers: owner })).statusCode).toBe(200);
}

describe('newcomer flow', () => {
  it('works end to end with the outbox folder (.eml + .json per message)', async () => {
    const context = await accountsApp();
    await newcomerFlow(context.app, (to, subject) => mailTo(context.outbox, to, subject));
    const files = await readdir(context.outbox);
    const json = files.filter((name) => name.endsWith('.json'));
    expect(json.length).toBe(2);
    for (const name of json) {
      expect(name).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-[0-9a-f]{8}\.json$/);
      expect(files).toContain(name.replace(/\.json$/, '.eml'));
    }
    const [first] = await outboxEntries(context.outbox);
    expect(Object.keys(first!).sort()).toEqual(['from', 'html', 'sent_at', 'subject', 'text', 'to']);
    expect(first!.html).toContain('<a href="http://localhost:3000/verify-email/');
  });

  it('works end to end over real SMTP', async () => {
    const received: Mail[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            for (const recipient of session.envelope.rcptTo) {
              received.push({
                to: recipient.address,
                subject: parsed.subject ?? '',
                text: parsed.text ?? '',
              });
            }
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.server.address() as AddressInfo;
    const context = await accountsApp({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    // E-mail is sent by the job queue after the request's commit: wait for it.
    await newcomerFlow(context.app, (to, subject) =>
      vi.waitFor(
        () => {
          const mail = received.filter((m) => m.to === to && subject.test(m.subject)).at(-1);
          if (!mail) throw new Error(`no SMTP message to ${to}`);
          return mail;
        },
        { timeout: 10_000, interval: 50 },
      ),
    );
    expect(received.length).toBe(2);
  });
  // A mail server that refuses no longer fails sign-up: test/jobs/mail-outbox.test.ts.
});
