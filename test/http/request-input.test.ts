/**
 * Hostile input at the edges of the wire (issue 14): each case answered today by a 500, by silently
 * changed data or by a plain-text refusal, now a precise 4xx problem+json (or accepted where it is fine):
 * dates outside years 1–9999, invalid UTF-8 and lone surrogates in JSON bodies, an empty JSON body where
 * a route takes none, headers too large, a duplicated `tenant` header, and hostile `X-Request-Id`s.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from '../helpers/core.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createTask, ok, snapshotCounts, type TaskJson } from '../todo/support.ts';

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
let task: TaskJson;
let baseUrl: string;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  task = await createTask(owner, { title: 'dated' });
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
});

function expectProblem(
  answer: { statusCode: number; body: string; headers: Record<string, unknown> },
  status: number,
) {
  expect(answer.statusCode, answer.body).toBe(status);
  expect(answer.headers['content-type']).toContain('application/problem+json');
  return answer.body
    ? (JSON.parse(answer.body) as { detail: string; errors?: Array<{ path: string }> })
    : undefined;
}

describe('dates are limited to years 1–9999', () => {
  const outside = [
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00+01:00',
    '10000-01-01T00:00:00Z',
    '-000001-01-01T00:00:00Z',
  ];

  it.each(outside)('POST and PATCH due_at %s → 400 naming the field, nothing stored', async (due) => {
    const before = await snapshotCounts(app, users.tenant);
    const created = expectProblem(await owner('POST', '/tasks/', { title: 'bc', due_at: due }), 400);
    expect(created?.errors?.map((e) => e.path)).toContain('/body/due_at');
    const patched = expectProblem(await owner('PATCH', `/tasks/${task.uuid}`, { due_at: due }), 400);
    expect(patched?.errors?.map((e) => e.path)).toContain('/body/due_at');
    expect(await snapshotCounts(app, users.tenant)).toEqual(before);
    expect((await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`))).due_at).toBeNull();
  });

  it('the first and last instants of the range are stored and read back exactly', async () => {
    for (const due of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      const patched = await ok<TaskJson>(owner('PATCH', `/tasks/${task.uuid}`, { due_at: due }));
      expect(patched.due_at).toBe(due);
      expect((await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`))).due_at).toBe(due);
    }
  });

  it('query strings: stats and task filters refuse year 0 with 400 naming the parameter', async () => {
    for (const [url, path] of [
      ['/tasks/stats?from=0000-01-01', '/querystring/from'],
      ['/tasks/stats?to=0000-12-31', '/querystring/to'],
      ['/tasks/?due_before=0000-01-01T00:00:00Z', '/querystring/due_before'],
      ['/tasks/export?due_after=0000-01-01T00:00:00Z', '/querystring/due_after'],
    ] as const) {
      const problem = expectProblem(await owner('GET', url), 400);
      expect(
        problem?.errors?.map((e) => e.path),
        url,
      ).toContain(path);
    }
    // The default start (29 days before `to`) stays in year 1.
    const early = await ok<{ from: string }>(owner('GET', '/tasks/stats?to=0001-01-05'));
    expect(early.from).toBe('0001-01-01');
  });
});

describe('query strings are strict UTF-8', () => {
  it('a percent-encoded value that is not UTF-8 → 400 naming the parameter, on every route alike', async () => {
    for (const [url, parameter] of [
      ['/tasks/?search=%FF', 'search'],
      ['/tasks/?search=%ED%A0%80', 'search'], // an encoded lone surrogate
      ['/tasks/?search=%E2%82', 'search'], // a truncated sequence
      ['/users/?q=%C3%28', 'q'],
      ['/tasks/?%FF=1', '%FF'],
    ] as const) {
      const answer = await app.inject({ method: 'GET', url, headers: users.owner.headers });
      const problem = expectProblem(answer, 400);
      expect(problem?.detail, url).toContain(`"${parameter}"`);
      expect(problem?.errors?.[0]?.path, url).toBe(`/query/${parameter}`);
    }
  });

  it('valid UTF-8, plus signs and repeated parameters are read as before', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/tasks/',
      headers: users.owner.headers,
      payload: { title: 'Grüße an 😀 team' },
    });
    expect(created.statusCode).toBe(201);
    const found = await app.inject({
      method: 'GET',
      url: `/tasks/?search=${encodeURIComponent('Grüße an 😀').replaceAll('%20', '+')}`,
      headers: users.owner.headers,
    });
    expect(found.statusCode).toBe(200);
    expect(found.json().items.map((t: { title: string }) => t.title)).toContain('Grüße an 😀 team');
    const repeated = await app.inject({
      method: 'GET',
      url: '/tasks/?status=todo&status=done',
      headers: users.owner.headers,
    });
    expect(repeated.statusCode).toBe(200);
  });
});

describe('JSON bodies are strict Unicode', () => {
  it('invalid UTF-8 → 400, not stored as U+FFFD', async () => {
    const before = await snapshotCounts(app, users.tenant);
    const body = Buffer.concat([
      Buffer.from('{"title":"bad '),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]);
    const answer = await app.inject({
      method: 'POST',
      url: '/tasks/',
      headers: { ...users.owner.headers, 'content-type': 'application/json' },
      payload: body,
    });
    expect(expectProblem(answer, 400)?.detail).toMatch(/UTF-8/);
    expect(await snapshotCounts(app, users.tenant)).toEqual(before);
  });

  it('a lone surrogate → 400 naming the field, in task titles, nested values, keys and tenant names', async () => {
    const raw = (text: string) => ({
      ...users.owner.headers,
      'content-type': 'application/json',
      payload: text,
    });
    for (const [payload, path] of [
      ['{"title":"x\\ud800y"}', '/body/title'],
      ['{"title":"ok","assignees":["\\udfff"]}', '/body/assignees/0'],
      ['{"title":"ok","\\ud800":1}', '/body/\ud800'],
    ] as const) {
      const { payload: text, ...headers } = raw(payload);
      const answer = await app.inject({ method: 'POST', url: '/tasks/', headers, payload: text });
      expect(
        expectProblem(answer, 400)?.errors?.map((e) => e.path),
        payload,
      ).toEqual([path]);
    }
    const tenants = await app.inject({
      method: 'POST',
      url: '/cc/tenants',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      payload: '{"name":"Lone \\ud83d company"}',
    });
    expect(expectProblem(tenants, 400)?.errors?.map((e) => e.path)).toEqual(['/body/name']);
    // A well-formed pair (an emoji) is fine.
    const emoji = await createTask(owner, { title: 'party \ud83c\udf89' });
    expect(emoji.title).toBe('party 🎉');
  });
});

describe('an empty body with content-type: application/json', () => {
  it('is accepted where the route takes no body (DELETE, POST …/restore), refused by a schema that needs one', async () => {
    const doomed = await createTask(owner, { title: 'empty bodies' });
    const json = { ...users.owner.headers, 'content-type': 'application/json' };
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/tasks/${doomed.uuid}`,
      headers: json,
      payload: '',
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const restored = await app.inject({
      method: 'POST',
      url: `/tasks/${doomed.uuid}/restore`,
      headers: json,
      payload: '',
    });
    expect(restored.statusCode, restored.body).toBe(200);
    const logout = await app.inject({ method: 'GET', url: '/auth/me', headers: json, payload: '' });
    expect(logout.statusCode, logout.body).toBe(200);
    const create = await app.inject({ method: 'POST', url: '/tasks/', headers: json, payload: '' });
    expectProblem(create, 400);
  });
});

/** One raw HTTP/1.1 exchange over TCP, for what app.inject cannot send (duplicate or huge headers). */
function rawExchange(
  lines: string[],
): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> {
  const { port, hostname } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [status = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      resolve({ statusCode: Number(status.split(' ')[1]), headers, body });
    });
    socket.end(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
  });
}

describe('headers', () => {
  it('too large → 431 problem+json with a precise message', async () => {
    const answer = await rawExchange(['GET /tasks/ HTTP/1.1', 'Host: x', `X-Padding: ${'a'.repeat(20_000)}`]);
    expect(expectProblem(answer, 431)?.detail).toMatch(/headers are larger than the server accepts \(16 KiB/);
  });

  it('a duplicated tenant header → 400 saying so', async () => {
    const answer = await rawExchange([
      'GET /tasks/ HTTP/1.1',
      'Host: x',
      `tenant: ${users.tenant}`,
      `Tenant: ${users.tenant}`,
      `Authorization: ${users.owner.headers.authorization}`,
    ]);
    expect(expectProblem(answer, 400)?.detail).toBe('The tenant header was sent 2 times; send it once');
  });

  it('X-Request-Id is echoed only when it is a short safe token', async () => {
    const idOf = async (sent: string) =>
      new Promise<string>((resolve, reject) => {
        const req = httpRequest(`${baseUrl}/`, { headers: { 'x-request-id': sent } }, (res) => {
          res.resume();
          resolve(String(res.headers['x-request-id']));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await idOf('req-42.a:b_C')).toBe('req-42.a:b_C');
    for (const hostile of ['x'.repeat(8_192), '{"injected":true}', 'a b', 'ünïcode']) {
      const id = await idOf(hostile);
      expect(id).not.toBe(hostile);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
