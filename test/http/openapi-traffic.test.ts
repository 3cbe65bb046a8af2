/**
 * Real traffic validated against the OpenAPI document (issue 14): every answer of a representative flow
 * (sign-up to deletion, the control center, the usual errors) and a schema-valid request to every
 * documented operation are recorded; each answer's status must be documented for its operation, and its
 * body must validate (ajv) against the schema documented for that status. Routes added later are covered
 * by the per-operation pass without editing this file.
 */

import type { InjectOptions } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { ResponseChecker } from '../../bench/response-check.ts';
import type { App } from '../../src/app.ts';
import { PASSWORD, randomIp, registerBody } from '../accounts/helpers.ts';
import { ADMIN } from '../helpers/core.ts';
import {
  CREATES_TENANT,
  type InjectionFixture,
  injectionFixture,
  unknownIds,
} from '../security/injection-setup.ts';

interface DocumentedOperation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: object }> }>;
}
interface Document {
  paths: Record<string, Record<string, DocumentedOperation>>;
  components: object;
}

interface Exchange {
  method: string;
  url: string;
  status: number;
  contentType: string;
  body: string;
}

let fixture: InjectionFixture;
let app: App;
let document: Document;
const traffic: Exchange[] = [];

/** `app.inject`, recording the answer. */
async function send(request: InjectOptions) {
  const response = await app.inject({ remoteAddress: randomIp(), ...request });
  traffic.push({
    method: String(request.method ?? 'GET').toUpperCase(),
    url: String(request.url).split('?')[0]!,
    status: response.statusCode,
    contentType: String(response.headers['content-type'] ?? ''),
    body: response.body,
  });
  return response;
}

beforeAll(async () => {
  fixture = await injectionFixture();
  app = fixture.app;
  document = (await app.inject({ method: 'GET', url: '/docs/json' })).json<Document>();
}, 120_000);

/** The documented path template a concrete URL belongs to (literal segments win over parameters). */
function templateOf(method: string, url: string): [string, DocumentedOperation] | undefined {
  const candidates = Object.entries(document.paths)
    .filter(([, methods]) => methods[method.toLowerCase()])
    .filter(([template]) => {
      const pattern = template.replace(/\/+$/, '').replace(/\{\w+\}/g, '[^/]+');
      return new RegExp(`^${pattern}/?$`).test(url);
    })
    .sort(([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  const found = candidates[0];
  return found ? [found[0], found[1][method.toLowerCase()]!] : undefined;
}

/**
 * Problems of the recorded answers: an operation or status the document does not list, or a body that
 * does not validate (bench/response-check.ts: ajv, every listed object closed to unlisted properties).
 */
function checkAgainstDocument(exchanges: Exchange[]): string[] {
  const checker = new ResponseChecker(document as unknown as Record<string, unknown>);
  const problems: string[] = [];
  for (const exchange of exchanges) {
    const where = `${exchange.method} ${exchange.url} → ${exchange.status}`;
    const found = templateOf(exchange.method, exchange.url);
    if (!found) {
      if (exchange.status !== 404) problems.push(`${where}: no documented operation`);
      continue;
    }
    const [template, operation] = found;
    const response = operation.responses?.[String(exchange.status)];
    if (!response) {
      problems.push(
        `${where}: status not documented for ${operation.operationId} (${exchange.body.slice(0, 120)})`,
      );
      continue;
    }
    if (exchange.body === '' || !/json/.test(exchange.contentType)) continue;
    try {
      checker.check(exchange.method, template, exchange.status, JSON.parse(exchange.body));
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message} in ${exchange.body.slice(0, 200)}`);
    }
  }
  return problems;
}

describe('real traffic matches the OpenAPI document', () => {
  it('the check itself refuses an undocumented status, an unlisted property and a wrong type', () => {
    const task = '/tasks/00000000-0000-4000-8000-000000000000';
    const json = 'application/json; charset=utf-8';
    const problems = checkAgainstDocument([
      { method: 'GET', url: task, status: 418, contentType: json, body: '{}' },
      {
        method: 'GET',
        url: '/users/count',
        status: 200,
        contentType: json,
        body: '{"count":1,"extra":true}',
      },
      { method: 'GET', url: '/users/count', status: 200, contentType: json, body: '{"count":"one"}' },
      {
        method: 'GET',
        url: task,
        status: 404,
        contentType: 'application/problem+json',
        body: '{"title":"x"}',
      },
    ]);
    expect(problems).toHaveLength(4);
  });

  it('a representative flow: sign-up, sign-in, daily work, the control center and the usual errors', async () => {
    const body = registerBody({ company_name: 'Traffic Ltd' });
    const registered = await send({ method: 'POST', url: '/auth/register', payload: body });
    expect(registered.statusCode, registered.body).toBe(201);
    await send({ method: 'POST', url: '/auth/register', payload: body });
    await send({ method: 'POST', url: '/auth/register', payload: { ...body, tos: false } });
    await send({ method: 'POST', url: '/auth/login', payload: { email: body.email, password: PASSWORD } });
    await send({ method: 'POST', url: '/auth/verify-email/resend', payload: { email: body.email } });
    await send({ method: 'POST', url: '/auth/verify-email', payload: { token: 'not-a-token' } });
    await send({ method: 'POST', url: '/auth/password-reset/request', payload: { email: body.email } });
    const { owner, member } = fixture.a;
    const login = await send({
      method: 'POST',
      url: '/auth/login',
      payload: { email: owner.email, password: PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    await send({
      method: 'POST',
      url: '/auth/login',
      payload: { email: owner.email, password: 'wrong password' },
    });
    const auth = owner.headers;
    await send({ method: 'GET', url: '/auth/me', headers: auth });
    await send({ method: 'GET', url: '/auth/me' });
    await send({ method: 'GET', url: '/auth/me', headers: { ...auth, authorization: 'Bearer nope' } });

    const list = await send({ method: 'POST', url: '/lists/', headers: auth, payload: { name: 'Traffic' } });
    const listId = list.json().uuid;
    const tag = await send({ method: 'POST', url: '/tags/', headers: auth, payload: { name: 'traffic' } });
    await send({ method: 'POST', url: '/tags/', headers: auth, payload: { name: 'traffic' } });
    const task = await send({
      method: 'POST',
      url: '/tasks/',
      headers: auth,
      payload: {
        title: 'Validate traffic',
        list_uuid: listId,
        tags: [tag.json().uuid],
        due_at: '2026-12-24T09:00:00Z',
      },
    });
    const taskId = task.json().uuid;
    await send({
      method: 'POST',
      url: '/tasks/',
      headers: auth,
      payload: { title: 'Second', list_uuid: listId },
    });
    await send({ method: 'POST', url: '/tasks/', headers: auth, payload: { title: '' } });
    await send({ method: 'GET', url: '/tasks/', headers: auth });
    await send({
      method: 'GET',
      url: `/tasks/?list=${listId}&status=todo&sort=due_at&order=desc&page=1&size=10`,
      headers: auth,
    });
    await send({ method: 'GET', url: '/tasks/?size=101', headers: auth });
    await send({ method: 'GET', url: `/tasks/${taskId}`, headers: auth });
    await send({
      method: 'PATCH',
      url: `/tasks/${taskId}`,
      headers: auth,
      payload: { status: 'done', position: 2 },
    });
    await send({ method: 'GET', url: `/tasks/${taskId}/events`, headers: auth });
    await send({
      method: 'POST',
      url: `/tasks/${taskId}/comments`,
      headers: auth,
      payload: { body: 'Looks right' },
    });
    await send({ method: 'GET', url: `/tasks/${taskId}/comments`, headers: auth });
    await send({ method: 'GET', url: '/tasks/stats', headers: auth });
    await send({ method: 'GET', url: '/tasks/export', headers: auth });
    await send({ method: 'DELETE', url: `/tasks/${taskId}`, headers: auth });
    await send({ method: 'POST', url: `/tasks/${taskId}/restore`, headers: auth });
    await send({ method: 'GET', url: '/tasks/00000000-0000-4000-8000-000000000000', headers: auth });
    await send({ method: 'GET', url: '/tasks/not-a-uuid', headers: auth });
    await send({ method: 'DELETE', url: `/lists/${listId}`, headers: auth });
    await send({ method: 'GET', url: '/lists/?archived=true', headers: auth });
    await send({ method: 'GET', url: '/users/?search=a&sort=email', headers: auth });
    await send({ method: 'GET', url: '/users/count', headers: auth });
    await send({ method: 'GET', url: '/users/', headers: member.headers });
    await send({
      method: 'POST',
      url: '/users/',
      headers: member.headers,
      payload: { email: 'x@example.com' },
    });
    await send({ method: 'GET', url: '/roles/', headers: auth });
    await send({ method: 'GET', url: '/roles/permissions', headers: auth });
    await send({ method: 'GET', url: '/groups/', headers: auth });
    await send({ method: 'GET', url: '/settings/', headers: auth });
    await send({ method: 'GET', url: '/settings/me', headers: auth });
    await send({ method: 'GET', url: '/users/', headers: { ...auth, tenant: 'no_such_tenant' } });
    await send({ method: 'POST', url: '/auth/logout', headers: await freshSession(owner.email) });

    await send({ method: 'GET', url: '/cc/tenants', headers: ADMIN });
    await send({ method: 'GET', url: '/cc/tenants' });
    await send({ method: 'GET', url: `/cc/tenants/${fixture.a.tenant}`, headers: ADMIN });
    await send({ method: 'GET', url: '/cc/tenants/public', headers: ADMIN });
    const created = await send({
      method: 'POST',
      url: '/cc/tenants',
      headers: ADMIN,
      payload: { name: 'Traffic CC' },
    });
    const ccTenant = created.json().tenant.tenant_id;
    await send({
      method: 'POST',
      url: `/cc/tenants/${ccTenant}/migrate`,
      headers: ADMIN,
      payload: { dry_run: true },
    });
    await send({
      method: 'POST',
      url: `/cc/tenants/${ccTenant}/downgrade`,
      headers: ADMIN,
      payload: { steps: 1 },
    });
    const job = await send({
      method: 'POST',
      url: '/cc/migrate',
      headers: ADMIN,
      payload: { dry_run: true },
    });
    await send({ method: 'GET', url: `/cc/jobs/${job.json().job_id}`, headers: ADMIN });
    await send({ method: 'DELETE', url: `/cc/tenants/${ccTenant}?confirm=${ccTenant}`, headers: ADMIN });
    await send({ method: 'GET', url: '/health' });
    await send({ method: 'GET', url: '/health/db' });
    await send({ method: 'GET', url: '/' });

    expect(traffic.length).toBeGreaterThan(50);
    expect(checkAgainstDocument(traffic)).toEqual([]);
  });

  it('a schema-valid request to every documented operation, and the same aimed at unknown ids', async () => {
    traffic.length = 0;
    const unknown = unknownIds(fixture.idsOfA);
    for (const op of fixture.ops) {
      if (CREATES_TENANT.has(op.operationId)) continue;
      // Destructive operations run last (below), so the others find their objects.
      if (op.method === 'DELETE' || op.operationId === 'auth.logoutAll') continue;
      await send(fixture.baseRequest(op));
      if (op.path.length > 0) await send(fixture.baseRequest(op, unknown));
    }
    for (const op of fixture.ops.filter((o) => o.method === 'DELETE' || o.operationId === 'auth.logoutAll')) {
      await send(fixture.baseRequest(op));
    }
    expect(
      new Set(traffic.map((t) => `${t.method} ${templateOf(t.method, t.url)?.[0]}`)).size,
    ).toBeGreaterThan(60);
    expect(checkAgainstDocument(traffic)).toEqual([]);
  });
});

async function freshSession(email: string): Promise<Record<string, string>> {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: PASSWORD },
    remoteAddress: randomIp(),
  });
  const session = response.json();
  return { tenant: session.tenant_id, authorization: `Bearer ${session.auth_token}` };
}
