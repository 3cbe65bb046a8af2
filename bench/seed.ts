/**
 * Deterministic seed data for the HTTP benchmarks, written through the public API exactly as a client
 * would (SPEC 4): register → verification e-mail from the outbox → verify-email (a session) → users,
 * tags and tasks. Names, e-mails, due dates, tags and assignees follow from loop indexes only.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const PASSWORD = 'bench password 1234';

export interface CallOptions {
  tenant?: string;
  token?: string;
  body?: unknown;
  /** Expected status (default 200). */
  expect?: number;
}

export interface Answer {
  status: number;
  text: string;
  json: unknown;
}

/** One request; throws with the body when the status is not the expected one. */
export async function call(
  base: string,
  method: string,
  url: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.tenant) headers.tenant = options.tenant;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${url}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const expected = options.expect ?? 200;
  if (response.status !== expected)
    throw new Error(`${method} ${url}: expected ${expected}, got ${response.status}: ${text.slice(0, 500)}`);
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, text, json: type.includes('json') ? JSON.parse(text) : undefined };
}

/** A string property of a JSON object answer (fails loudly when the shape is not the expected one). */
export function field(json: unknown, ...keys: string[]): string {
  let value: unknown = json;
  for (const key of keys) value = (value as Record<string, unknown> | undefined)?.[key];
  if (typeof value !== 'string') throw new Error(`answer without ${keys.join('.')}: ${JSON.stringify(json)}`);
  return value;
}

/** Runs `work(i)` for i in [0, count) with at most `limit` in flight; results in index order. */
export async function inParallel<T>(
  count: number,
  limit: number,
  work: (i: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

async function verificationToken(dataDir: string, email: string): Promise<string> {
  const outbox = path.join(dataDir, 'outbox');
  for (let attempt = 0; attempt < 50; attempt++) {
    const files = (await readdir(outbox).catch(() => [])).filter((name) => name.endsWith('.json')).sort();
    for (const name of files.reverse()) {
      const mail = JSON.parse(await readFile(path.join(outbox, name), 'utf8')) as {
        to: string;
        text: string;
      };
      const token = /\/verify-email\/(\S+)/.exec(mail.text)?.[1];
      if (mail.to === email && token) return token;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no verification e-mail for ${email} in ${outbox}`);
}

export interface SeededCompany {
  tenant: string;
  /** The OWNER's session token. */
  token: string;
  users: Array<{ uuid: string; email: string }>;
  tags: string[];
  tasks: string[];
}

/** POST /auth/register, then verify the e-mail: a tenant with its OWNER logged in. */
export async function registerCompany(base: string, dataDir: string, slug: string): Promise<SeededCompany> {
  const email = `owner@${slug}.example`;
  const registered = await call(base, 'POST', '/auth/register', {
    expect: 201,
    body: {
      company_name: `Bench ${slug}`,
      first_name: 'Olivia',
      last_name: 'Owner',
      email,
      password: PASSWORD,
      tos: true,
      tz: 'Europe/Berlin',
    },
  });
  const tenant = field(registered.json, 'tenant_id');
  const verified = await call(base, 'POST', '/auth/verify-email', {
    body: { token: await verificationToken(dataDir, email) },
  });
  return {
    tenant,
    token: field(verified.json, 'auth_token'),
    users: [{ uuid: field(verified.json, 'user', 'uuid'), email }],
    tags: [],
    tasks: [],
  };
}

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Niklaus',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Wirth',
];

/** POST /users/ with a password: active MEMBERs, until the company has `total` users. */
export async function addUsers(
  base: string,
  company: SeededCompany,
  slug: string,
  total: number,
): Promise<void> {
  const start = company.users.length;
  const added = await inParallel(total - start, 4, async (k) => {
    const i = start + k;
    const email = `user${String(i).padStart(3, '0')}@${slug}.example`;
    const answer = await call(base, 'POST', '/users/', {
      tenant: company.tenant,
      token: company.token,
      expect: 201,
      body: {
        email,
        first_name: FIRST[i % FIRST.length],
        last_name: `${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${i}`,
        password: PASSWORD,
      },
    });
    return { uuid: field(answer.json, 'uuid'), email };
  });
  company.users.push(...added);
}

export async function addTags(base: string, company: SeededCompany, count: number): Promise<void> {
  const colors = ['#e11d48', '#2563eb', '#16a34a', '#ca8a04', '#9333ea'];
  for (let i = 0; i < count; i++) {
    const answer = await call(base, 'POST', '/tags/', {
      tenant: company.tenant,
      token: company.token,
      expect: 201,
      body: { name: `tag-${i}`, color: colors[i % colors.length] },
    });
    company.tags.push(field(answer.json, 'uuid'));
  }
}

const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;

/** Task i: every fourth is done, the rest todo; two tags and two assignees each; due one hour apart. */
export function taskBody(company: SeededCompany, i: number): Record<string, unknown> {
  const users = company.users;
  const tags = company.tags;
  const assignees = [...new Set([users[i % users.length]?.uuid, users[(i + 7) % users.length]?.uuid])];
  const taskTags = [...new Set([tags[i % tags.length], tags[(i + 1) % tags.length]])];
  return {
    title: `Task ${i}: prepare the quarterly report section ${i % 12}`,
    description: `Collect the figures of department ${i % 9}, check them against last quarter and write a short summary.`,
    status: i % 4 === 3 ? 'done' : 'todo',
    priority: PRIORITIES[i % PRIORITIES.length],
    due_at: new Date(Date.UTC(2027, 0, 1) + i * 3_600_000).toISOString(),
    assignees: assignees.filter((uuid): uuid is string => uuid !== undefined),
    tags: taskTags.filter((uuid): uuid is string => uuid !== undefined),
  };
}

export async function addTasks(base: string, company: SeededCompany, count: number): Promise<void> {
  const created = await inParallel(count, 8, async (i) => {
    const answer = await call(base, 'POST', '/tasks/', {
      tenant: company.tenant,
      token: company.token,
      expect: 201,
      body: taskBody(company, i),
    });
    return field(answer.json, 'uuid');
  });
  company.tasks.push(...created);
}
