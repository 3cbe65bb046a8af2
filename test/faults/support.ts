/**
 * Fault tests drive the real server process (test/helpers/server.ts) over HTTP. These helpers sign a
 * company up through that server (its mail goes to the outbox under DATA_DIR) and time requests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { linkToken, mailTo, PASSWORD, uniqueEmail } from '../accounts/helpers.ts';
import { onFileEnd } from '../helpers/cleanup.ts';

/** The control center token test/helpers/server.ts gives the spawned server. */
export const SERVER_ADMIN = { authorization: 'Bearer server-process-test-token' };

/** A fresh DATA_DIR (mail outbox), removed after the file. */
export async function dataDir(label: string): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), `tenantry-${label}-`));
  onFileEnd(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

export interface HttpOwner {
  tenant: string;
  email: string;
  headers: Record<string, string>;
}

/** register → verification e-mail in `${dataDir}/outbox` → verify, all through the server's HTTP API. */
export async function signUpOver(baseUrl: string, folder: string, company = 'Faulty'): Promise<HttpOwner> {
  const email = uniqueEmail('owner');
  const registered = await fetch(`${baseUrl}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      company_name: company,
      first_name: 'F',
      last_name: 'T',
      email,
      password: PASSWORD,
      tos: true,
    }),
  });
  expect(registered.status, await registered.clone().text()).toBe(201);
  const mail = await mailTo(path.join(folder, 'outbox'), email, /Confirm/);
  const verified = await fetch(`${baseUrl}/auth/verify-email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: linkToken(mail.text, 'verify-email') }),
  });
  expect(verified.status).toBe(200);
  const session = (await verified.json()) as { tenant_id: string; auth_token: string };
  return {
    tenant: session.tenant_id,
    email,
    headers: { tenant: session.tenant_id, authorization: `Bearer ${session.auth_token}` },
  };
}

export interface Timed {
  status: number;
  ms: number;
  retryAfter: string | null;
  body: string;
}

/** A request that never throws: a network failure is status 0 (with the error as body). */
export async function timed(url: string, init: RequestInit = {}): Promise<Timed> {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    const body = await response.text();
    return {
      status: response.status,
      ms: performance.now() - started,
      retryAfter: response.headers.get('retry-after'),
      body,
    };
  } catch (error) {
    return { status: 0, ms: performance.now() - started, retryAfter: null, body: String(error) };
  }
}

/** Polls `check` until it is true (or fails the test after `ms`). */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
