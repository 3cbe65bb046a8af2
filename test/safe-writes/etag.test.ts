/**
 * ETag / If-Match / If-None-Match (issue 19) on tasks, lists, tags, comments, users, groups and settings:
 * every single-resource answer has a strong ETag; a stale If-Match on PATCH/PUT/DELETE answers 412 with
 * the current ETag and changes nothing; If-None-Match answers 304; 50 concurrent PATCHes sending the same
 * ETag → exactly one 2xx, the other 49 are 412.
 */
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, uniqueEmail } from '../accounts/helpers.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createList, createTag, createTask, ok } from '../todo/support.ts';
import { stateOf } from './support.ts';

const context = await usersApp({ poolSize: 10 });
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

const send = (method: 'GET' | 'PATCH' | 'PUT' | 'DELETE', url: string, headers: object, payload?: object) =>
  app.inject({
    method,
    url,
    headers: { ...users.owner.headers, ...headers },
    ...(payload ? { payload } : {}),
  });

interface Resource {
  /** URL of one fresh object of the resource. */
  make: () => Promise<string>;
  /** A PATCH (PUT for settings) body; `i` makes each one different. */
  change: (i: number) => object;
  method: 'PATCH' | 'PUT';
  deletable: boolean;
}

const RESOURCES: Record<string, Resource> = {
  tasks: {
    make: async () => `/tasks/${(await createTask(owner, { title: `t ${randomUUID()}` })).uuid}`,
    change: (i) => ({ title: `title ${i}` }),
    method: 'PATCH',
    deletable: true,
  },
  lists: {
    make: async () => `/lists/${(await createList(owner, `l ${randomUUID()}`)).uuid}`,
    change: (i) => ({ name: `list ${i}` }),
    method: 'PATCH',
    deletable: true,
  },
  tags: {
    make: async () => `/tags/${(await createTag(owner, `g ${randomUUID().slice(0, 8)}`)).uuid}`,
    change: (i) => ({ name: `tag ${i} ${randomUUID().slice(0, 8)}` }),
    method: 'PATCH',
    deletable: true,
  },
  comments: {
    make: async () => {
      const task = await createTask(owner, { title: 'commented' });
      const comment = await ok<{ uuid: string }>(
        owner('POST', `/tasks/${task.uuid}/comments`, { body: 'c' }),
        201,
      );
      return `/comments/${comment.uuid}`;
    },
    change: (i) => ({ body: `edit ${i}` }),
    method: 'PATCH',
    deletable: true,
  },
  users: {
    make: async () => {
      const user = await ok<{ uuid: string }>(
        owner('POST', '/users/', {
          email: uniqueEmail('e'),
          first_name: 'E',
          last_name: 'T',
          password: PASSWORD,
        }),
        201,
      );
      return `/users/${user.uuid}`;
    },
    change: (i) => ({ first_name: `F${i}` }),
    method: 'PATCH',
    deletable: true,
  },
  groups: {
    make: async () =>
      `/groups/${(await ok<{ uuid: string }>(owner('POST', '/groups/', { name: `g ${randomUUID()}` }), 201)).uuid}`,
    change: (i) => ({ description: `d ${i}` }),
    method: 'PATCH',
    deletable: true,
  },
  settings: {
    make: async () => '/settings/me',
    change: (i) => ({ tasks_page_size: 10 + i, theme: i % 3 ? 'dark' : 'light' }),
    method: 'PUT',
    deletable: false,
  },
};

/** Comments and tags have no GET of one: their current answer (and ETag) comes from a PATCH. */
const readByPatch = (url: string) => url.startsWith('/comments/') || url.startsWith('/tags/');

async function current(url: string): Promise<LightMyRequestResponse> {
  if (url.startsWith('/comments/')) return send('PATCH', url, {}, { body: 'read back' });
  if (url.startsWith('/tags/')) return send('PATCH', url, {}, { color: '#336699' });
  return send('GET', url, {});
}

describe.each(Object.entries(RESOURCES))('%s', (_name, resource) => {
  it('answers a strong ETag; If-None-Match → 304; a stale If-Match → 412 with the current ETag, nothing changed', async () => {
    const url = await resource.make();
    const read = await current(url);
    expect(read.statusCode, read.body).toBe(200);
    const etag = read.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    if (!readByPatch(url)) {
      const cached = await send('GET', url, { 'if-none-match': etag });
      expect(cached.statusCode).toBe(304);
      expect(cached.body).toBe('');
      expect((await send('GET', url, { 'if-none-match': '"other"' })).statusCode).toBe(200);
    }
    const changed = await send(resource.method, url, { 'if-match': etag }, resource.change(1));
    expect(changed.statusCode, changed.body).toBe(200);
    const fresh = changed.headers.etag as string;
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(etag);
    const before = await stateOf(app, users.tenant);
    const stale = await send(resource.method, url, { 'if-match': etag }, resource.change(2));
    expect(stale.statusCode).toBe(412);
    expect(stale.headers['content-type']).toContain('application/problem+json');
    expect(stale.headers.etag).toBe(fresh);
    if (resource.deletable) {
      const refused = await send('DELETE', url, { 'if-match': etag });
      expect(refused.statusCode).toBe(412);
      expect(refused.headers.etag).toBe(fresh);
    }
    expect(await stateOf(app, users.tenant)).toEqual(before);
    // A weak validator never matches an If-Match (strong comparison); `*` matches any.
    expect(
      (await send(resource.method, url, { 'if-match': `W/${fresh}` }, resource.change(3))).statusCode,
    ).toBe(412);
    expect((await send(resource.method, url, { 'if-match': '*' }, resource.change(4))).statusCode).toBe(200);
    // Without If-Match writes behave as before.
    expect((await send(resource.method, url, {}, resource.change(5))).statusCode).toBe(200);
    if (resource.deletable) {
      const latest = (await send(resource.method, url, {}, resource.change(6))).headers.etag as string;
      const deleted = await send('DELETE', url, { 'if-match': latest });
      expect(deleted.statusCode, deleted.body).toBeLessThan(300);
    }
  });

  it('50 concurrent writes with the same If-Match: exactly one 2xx, 49 × 412', async () => {
    const url = await resource.make();
    const etag = (await current(url)).headers.etag as string;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        send(resource.method, url, { 'if-match': etag }, resource.change(i + 10)),
      ),
    );
    const statuses = answers.map((answer) => answer.statusCode).sort();
    expect(
      statuses.filter((status) => status < 300),
      statuses.join(','),
    ).toHaveLength(1);
    // The others changed nothing: 412, or — on a saturated machine — 503 + Retry-After (pool wait bound).
    const refused = answers.filter((answer) => answer.statusCode >= 300);
    for (const answer of refused)
      if (answer.statusCode !== 412) {
        expect(answer.statusCode, statuses.join(',')).toBe(503);
        expect(answer.headers['retry-after']).toBeDefined();
      }
    expect(refused.filter((answer) => answer.statusCode === 412).length, statuses.join(',')).toBeGreaterThan(
      0,
    );
  });
});
