/**
 * Shared steps of the account tests: an app whose mail goes to a per-file outbox folder, reading that
 * outbox, signing up a company through HTTP, and headers for a session.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { InjectOptions } from 'fastify';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { OutboxEntry } from '../../src/mail/outbox.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { type TestAppOptions, testApp } from '../helpers/core.ts';

export const PASSWORD = 'correct horse battery';

export interface AccountsApp {
  app: App;
  outbox: string;
}

/** An app with mail going to a fresh outbox folder (removed after the file). */
export async function accountsApp(options: TestAppOptions = {}): Promise<AccountsApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenantry-accounts-'));
  onFileEnd(() => rm(dataDir, { recursive: true, force: true }));
  const app = await testApp({ ...options, env: { DATA_DIR: dataDir, ...options.env } });
  return { app, outbox: path.join(dataDir, 'outbox') };
}

export const uniqueEmail = (label = 'user') => `${label}.${randomBytes(5).toString('hex')}@example.com`;

/** A fresh client address, so the per-IP rate limits of one test do not leak into another. */
export const randomIp = () =>
  `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${Math.max(1, randomBytes(1)[0]! % 254)}`;

export async function outboxEntries(folder: string): Promise<OutboxEntry[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const entries = await Promise.all(
    names
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .sort()
      .map(async (name) => JSON.parse(await readFile(path.join(folder, name), 'utf8')) as OutboxEntry),
  );
  return entries;
}

/** The newest message to `to` (waits up to 5 s: some mail is sent in the background). */
export async function mailTo(folder: string, to: string, subject?: RegExp): Promise<OutboxEntry> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const found = (await outboxEntries(folder))
      .filter((entry) => entry.to === to && (!subject || subject.test(entry.subject)))
      .at(-1);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no e-mail to ${to} in ${folder}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The token of a `{APP_URL}/<kind>/{token}` link in a message's text. */
export function linkToken(text: string, kind: 'verify-email' | 'reset-password' | 'accept-invite'): string {
  const match = new RegExp(`/${kind}/([^\\s]+)`).exec(text);
  if (!match) throw new Error(`no ${kind} link in:\n${text}`);
  return decodeURIComponent(match[1]!);
}

export interface Owner {
  tenant: string;
  email: string;
  token: string;
  uuid: string;
  headers: Record<string, string>;
}

export function registerBody(overrides: Record<string, unknown> = {}) {
  return {
    company_name: 'Acme Widgets',
    first_name: 'Ada',
    last_name: 'Lovelace',
    email: uniqueEmail('owner'),
    password: PASSWORD,
    tos: true,
    ...overrides,
  };
}

/** register → verification e-mail → verify: a company with a signed-in OWNER. */
export async function signUp(context: AccountsApp, overrides: Record<string, unknown> = {}): Promise<Owner> {
  const body = registerBody(overrides);
  const registered = await context.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: body,
    remoteAddress: randomIp(),
  });
  expect(registered.statusCode, registered.body).toBe(201);
  const mail = await mailTo(context.outbox, body.email, /Confirm/);
  const verified = await context.app.inject({
    method: 'POST',
    url: '/auth/verify-email',
    payload: { token: linkToken(mail.text, 'verify-email') },
    remoteAddress: randomIp(),
  });
  expect(verified.statusCode, verified.body).toBe(200);
  const session = verified.json();
  return {
    tenant: session.tenant_id,
    email: body.email,
    token: session.auth_token,
    uuid: session.user.uuid,
    headers: { tenant: session.tenant_id, authorization: `Bearer ${session.auth_token}` },
  };
}

/** Logs in through HTTP and returns the session headers. */
export async function login(app: App, email: string, password = PASSWORD): Promise<Record<string, string>> {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    remoteAddress: randomIp(),
  });
  expect(response.statusCode, response.body).toBe(200);
  const session = response.json();
  return { tenant: session.tenant_id, authorization: `Bearer ${session.auth_token}` };
}

export function as(headers: Record<string, string>, request: InjectOptions): InjectOptions {
  return { ...request, headers: { ...headers, ...(request.headers as Record<string, string> | undefined) } };
}
