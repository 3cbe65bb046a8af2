/**
 * A condition, not an example (issue 19): EVERY write route of the OpenAPI document (`/docs/json`) that
 * a tenant user calls is sent once with an Idempotency-Key and then retried with the same key and
 * request. The retry must answer the first answer again (status and body) with `Idempotency-Replayed:
 * true`, and leave every table of the tenant exactly as the first request left it: exactly one effect.
 *
 * Routes added later are covered without editing this file: path parameters get a fresh object of the
 * resource when FIXTURES knows it (else a random uuid: the kept answer is then a 404, replayed all the
 * same), and bodies come from BODIES or, for an unknown route, from the route's JSON schema (`sample`).
 */
import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { login, PASSWORD, uniqueEmail } from '../accounts/helpers.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createList, createTag, createTask, ok } from '../todo/support.ts';
import { stateOf } from './support.ts';

const context = await usersApp({ poolSize: 10, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  format?: string;
  minLength?: number;
  minimum?: number;
  minItems?: number;
  default?: unknown;
  examples?: unknown[];
}

/** A value that satisfies `schema` (for routes this file does not know). */
function sample(schema: JsonSchema | undefined): unknown {
  if (!schema) return undefined;
  if (schema.examples?.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.anyOf?.length) return sample(schema.anyOf[0]);
  if (schema.allOf?.length) return Object.assign({}, ...schema.allOf.map((part) => sample(part)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(
        (schema.required ?? Object.keys(schema.properties ?? {}).slice(0, 1)).map((name) => [
          name,
          sample(schema.properties?.[name]),
        ]),
      );
    case 'string':
      if (schema.format === 'email') return uniqueEmail('gen');
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      return `g${randomUUID().slice(0, Math.max(7, schema.minLength ?? 1))}`;
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return schema.minItems ? [sample(schema.items)] : [];
    default:
      return null;
  }
}

const unique = (label: string) => `${label} ${randomUUID().slice(0, 8)}`;

/** A fresh object of the resource a path parameter names (by the path's first segment). */
const FIXTURES: Record<string, (path: string) => Promise<string>> = {
  tasks: async (path) => {
    const task = await createTask(owner, { title: unique('task') });
    if (path.endsWith('/restore')) await ok(owner('DELETE', `/tasks/${task.uuid}`), 204);
    return task.uuid;
  },
  lists: async () => (await createList(owner, unique('list'))).uuid,
  tags: async () => (await createTag(owner, unique('tag'))).uuid,
  comments: async () => {
    const task = await createTask(owner, { title: unique('commented') });
    return (await ok<{ uuid: string }>(owner('POST', `/tasks/${task.uuid}/comments`, { body: 'c' }), 201))
      .uuid;
  },
  users: async () =>
    (
      await ok<{ uuid: string }>(
        owner('POST', '/users/', {
          email: uniqueEmail('fx'),
          first_name: 'F',
          last_name: 'X',
          password: PASSWORD,
        }),
        201,
      )
    ).uuid,
  roles: async () =>
    (
      await ok<{ uuid: string }>(
        owner('POST', '/roles/', {
          name: `R_${randomUUID().slice(0, 8).toUpperCase()}`,
          title: 'R',
          permissions: [],
        }),
        201,
      )
    ).uuid,
  groups: async () =>
    (await ok<{ uuid: string }>(owner('POST', '/groups/', { name: unique('group') }), 201)).uuid,
  webhooks: async () =>
    (
      await ok<{ uuid: string }>(
        owner('POST', '/webhooks', { url: 'http://127.0.0.1:9/fixture', event_types: ['task.*'] }),
        201,
      )
    ).uuid,
  tokens: async () =>
    (await ok<{ uuid: string }>(owner('POST', '/tokens/', { name: 'fx', scopes: ['TASK_VIEW'] }), 201)).uuid,
};

/** Bodies that succeed, keyed by "METHOD path" as in the document. */
const BODIES: Record<string, () => unknown> = {
  'POST /lists/': () => ({ name: unique('list') }),
  'PATCH /lists/{uuid}': () => ({ name: unique('renamed') }),
  'POST /tasks/': () => ({ title: unique('task') }),
  'PATCH /tasks/{uuid}': () => ({ title: unique('retitled'), status: 'done' }),
  'POST /tasks/{uuid}/comments': () => ({ body: unique('comment') }),
  'PATCH /comments/{uuid}': () => ({ body: unique('edited') }),
  'POST /tags/': () => ({ name: unique('tag') }),
  'PATCH /tags/{uuid}': () => ({ name: unique('tag') }),
  'POST /users/': () => ({ email: uniqueEmail('new'), first_name: 'N', last_name: 'U', password: PASSWORD }),
  'PATCH /users/{uuid}': () => ({ first_name: unique('F') }),
  'POST /roles/': () => ({
    name: `N_${randomUUID().slice(0, 8).toUpperCase()}`,
    title: 'N',
    permissions: ['TASK_VIEW'],
  }),
  'PATCH /roles/{uuid}': () => ({ title: unique('T') }),
  'POST /groups/': () => ({ name: unique('group') }),
  'PATCH /groups/{uuid}': () => ({ description: unique('d') }),
  'PUT /settings/': () => ({ week_start: 'sunday' }),
  'PUT /settings/me': () => ({ theme: 'dark' }),
  'POST /tokens/': () => ({ name: unique('token'), scopes: ['TASK_VIEW'] }),
  'POST /webhooks': () => ({ url: 'http://127.0.0.1:9/hook', event_types: ['task.*'] }),
  'PATCH /webhooks/{uuid}': () => ({ event_types: ['list.*'] }),
};

/** Raw (non-JSON) requests. */
const RAW: Record<string, () => { payload: string; contentType: string }> = {
  'POST /users/import': () => ({
    payload: `email,first_name,last_name\n${uniqueEmail('imp')},I,M\n`,
    contentType: 'text/csv',
  }),
};

/**
 * Routes whose first call revokes the very credentials the retry authenticates with: the retry is
 * refused by authentication (401) before the key is even looked at — and changes nothing either.
 */
const SELF_REVOKING = new Set(['POST /auth/logout', 'POST /auth/logout-all']);

interface Operation {
  security?: Array<Record<string, unknown>>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

describe('every write route, retried with the same Idempotency-Key', { timeout: 600_000 }, () => {
  it('replays the first answer with Idempotency-Replayed and changes nothing', async () => {
    const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, Operation>>;
    }>();
    const routes: Array<{ method: string; path: string; operation: Operation }> = [];
    for (const [path, item] of Object.entries(document.paths))
      for (const [method, operation] of Object.entries(item))
        if (
          ['post', 'put', 'patch', 'delete'].includes(method) &&
          operation.security?.some((s) => 'bearer' in s && 'tenant' in s)
        )
          routes.push({ method: method.toUpperCase(), path, operation });
    expect(routes.length).toBeGreaterThan(25);

    const failures: string[] = [];
    let succeeded = 0;
    for (const { method, path, operation } of routes) {
      const key = `${method} ${path}`;
      let url = path;
      const param = /\{(\w+)\}/.exec(path);
      if (param) {
        const fixture = FIXTURES[path.split('/')[1] ?? ''];
        url = path.replace(param[0], fixture ? await fixture(path) : randomUUID());
      }
      // Self-revoking routes use a session of their own, so the rest of the walk keeps its owner.
      const headers = SELF_REVOKING.has(key) ? await login(app, users.member.email) : users.owner.headers;
      const request: InjectOptions = {
        method: method as InjectOptions['method'],
        url,
        headers: { ...headers, 'idempotency-key': randomUUID() },
      };
      const raw = RAW[key]?.();
      if (raw) {
        request.payload = raw.payload;
        request.headers = { ...request.headers, 'content-type': raw.contentType };
      } else {
        const body = BODIES[key]?.() ?? sample(operation.requestBody?.content?.['application/json']?.schema);
        if (body !== undefined) request.payload = body as object;
      }
      const first = await app.inject(request);
      if (first.statusCode < 300) succeeded++;
      if (first.statusCode >= 500) failures.push(`${key}: first answer ${first.statusCode} ${first.body}`);
      const before = await stateOf(app, users.tenant);
      const retry = await app.inject(request);
      const after = await stateOf(app, users.tenant);
      if (JSON.stringify(after) !== JSON.stringify(before))
        failures.push(`${key}: the retry changed the database`);
      if (SELF_REVOKING.has(key)) {
        if (retry.statusCode !== 401)
          failures.push(`${key}: retry after revocation answered ${retry.statusCode}`);
        continue;
      }
      // Refused by the route's schema (400) before any handler ran: nothing happened, nothing is kept, and a
      // retry is refused the same way (a delivery id this walk cannot make, for instance).
      if (first.statusCode === 400 && retry.statusCode === 400 && retry.body === first.body) continue;
      if (retry.headers['idempotency-replayed'] !== 'true')
        failures.push(`${key}: retry not marked as replayed (${first.statusCode} then ${retry.statusCode})`);
      if (retry.statusCode !== first.statusCode)
        failures.push(`${key}: ${first.statusCode} then ${retry.statusCode}`);
      if (retry.body !== first.body) failures.push(`${key}: the replayed body differs`);
    }
    expect(failures).toEqual([]);
    // Most routes really ran (2xx): the walk proves "one effect", not only "one refusal".
    expect(succeeded).toBeGreaterThanOrEqual(routes.length - 3);
  });
});
