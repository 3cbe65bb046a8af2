/**
 * Access on every TODO route, table-driven from `app.tenantRoutes` (the route table the auth guard
 * records): no token → 401; a MEMBER → 403 exactly where the role lacks the declared permission; the
 * token of tenant A with ids of tenant B → 404; A's token sent to tenant B → 401. A route missing from
 * the table below fails the coverage check, so a new route cannot skip these tests.
 */
import type { InjectOptions } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  caller,
  createList,
  createTag,
  createTask,
  ok,
  type PageJson,
  snapshotCounts,
  type TaskJson,
} from './support.ts';

const MEMBER_PERMISSIONS = new Set(['USER_VIEW', 'TASK_VIEW', 'TASK_ADD', 'TASK_EDIT']);

interface Ids {
  task: string;
  list: string;
  tag: string;
  comment: string;
}

/** A valid request per route, for a tenant's ids: only access decides the answer. */
const REQUESTS: Record<string, (ids: Ids) => { url: string; payload?: object }> = {
  'GET /lists/': () => ({ url: '/lists/' }),
  'POST /lists/': () => ({ url: '/lists/', payload: { name: 'probe' } }),
  'GET /lists/:uuid': (ids) => ({ url: `/lists/${ids.list}` }),
  'PATCH /lists/:uuid': (ids) => ({ url: `/lists/${ids.list}`, payload: { name: 'renamed' } }),
  'DELETE /lists/:uuid': (ids) => ({ url: `/lists/${ids.list}` }),
  'GET /tasks/': () => ({ url: '/tasks/' }),
  'POST /tasks/': () => ({ url: '/tasks/', payload: { title: 'probe' } }),
  'GET /tasks/stats': () => ({ url: '/tasks/stats' }),
  'GET /tasks/export': () => ({ url: '/tasks/export' }),
  'GET /tasks/:uuid': (ids) => ({ url: `/tasks/${ids.task}` }),
  'PATCH /tasks/:uuid': (ids) => ({ url: `/tasks/${ids.task}`, payload: { title: 'renamed' } }),
  'DELETE /tasks/:uuid': (ids) => ({ url: `/tasks/${ids.task}` }),
  'POST /tasks/:uuid/restore': (ids) => ({ url: `/tasks/${ids.task}/restore` }),
  'GET /tasks/:uuid/events': (ids) => ({ url: `/tasks/${ids.task}/events` }),
  'GET /tasks/:uuid/comments': (ids) => ({ url: `/tasks/${ids.task}/comments` }),
  'POST /tasks/:uuid/comments': (ids) => ({ url: `/tasks/${ids.task}/comments`, payload: { body: 'probe' } }),
  'PATCH /comments/:uuid': (ids) => ({ url: `/comments/${ids.comment}`, payload: { body: 'renamed' } }),
  'DELETE /comments/:uuid': (ids) => ({ url: `/comments/${ids.comment}` }),
  'GET /tags/': () => ({ url: '/tags/' }),
  'POST /tags/': () => ({ url: '/tags/', payload: { name: `probe-${Math.random()}` } }),
  'PATCH /tags/:uuid': (ids) => ({ url: `/tags/${ids.tag}`, payload: { color: '#123456' } }),
  'DELETE /tags/:uuid': (ids) => ({ url: `/tags/${ids.tag}` }),
};

const context = await usersApp();
const { app } = context;
let a: TenantUsers;
let b: TenantUsers;

let seeded = 0;
async function seedIds(users: TenantUsers): Promise<Ids> {
  const call = caller(app, users.owner);
  seeded += 1;
  const list = await createList(call, 'L');
  const tag = await createTag(call, `T${seeded}`);
  const task = await createTask(call, { title: 'T', list_uuid: list.uuid, tags: [tag.uuid] });
  const comment = await ok<{ uuid: string }>(
    call('POST', `/tasks/${task.uuid}/comments`, { body: 'c' }),
    201,
  );
  return { task: task.uuid, list: list.uuid, tag: tag.uuid, comment: comment.uuid };
}

let idsA: Ids;
let idsB: Ids;
beforeAll(async () => {
  [a, b] = await Promise.all([tenantWithUsers(context), tenantWithUsers(context)]);
  [idsA, idsB] = await Promise.all([seedIds(a), seedIds(b)]);
});

const todoRoutes = () =>
  app.tenantRoutes.filter((route) => /^\/(lists|tasks|tags|comments)(\/|$)/.test(route.url));

function request(key: string, ids: Ids, headers: Record<string, string>): InjectOptions {
  const [method] = key.split(' ') as [InjectOptions['method']];
  const { url, payload } = REQUESTS[key]!(ids);
  return { method, url, headers, ...(payload ? { payload } : {}) };
}

describe('access on every TODO route', () => {
  it('the table covers every TODO route, and every route declares a permission', () => {
    const keys = todoRoutes().map((route) => `${route.method} ${route.url}`);
    expect(keys.sort()).toEqual(Object.keys(REQUESTS).sort());
    for (const route of todoRoutes()) expect(route.access).not.toBe('public');
  });

  it('no token → 401 problem+json', async () => {
    for (const key of Object.keys(REQUESTS)) {
      const response = await app.inject(request(key, idsA, { tenant: a.tenant }));
      expect(response.statusCode, key).toBe(401);
      expect(response.headers['content-type'], key).toContain('application/problem+json');
    }
  });

  it("tenant A's token sent to tenant B → 401", async () => {
    for (const key of Object.keys(REQUESTS)) {
      const headers = { ...a.owner.headers, tenant: b.tenant };
      expect((await app.inject(request(key, idsB, headers))).statusCode, key).toBe(401);
    }
  });

  it('a MEMBER gets 403 exactly where the role lacks the permission', async () => {
    const memberIds = await seedIds(a);
    // The member's own comment, so the ownership rule does not interfere.
    const own = await ok<{ uuid: string }>(
      caller(app, a.member)('POST', `/tasks/${memberIds.task}/comments`, { body: 'mine' }),
      201,
    );
    memberIds.comment = own.uuid;
    for (const route of todoRoutes()) {
      const key = `${route.method} ${route.url}`;
      const response = await app.inject(request(key, memberIds, a.member.headers));
      const allowed = route.access === 'authenticated-only' || MEMBER_PERMISSIONS.has(route.access);
      if (allowed) expect([401, 403], `${key}: ${response.body}`).not.toContain(response.statusCode);
      else {
        expect(response.statusCode, key).toBe(403);
        expect(response.json().detail, key).toContain(route.access);
      }
    }
  });

  it("tenant A's owner with tenant B's ids → 404 on every route with an id, nothing changed in B", async () => {
    const before = await snapshotCounts(app, b.tenant);
    for (const key of Object.keys(REQUESTS).filter((k) => k.includes(':uuid'))) {
      const response = await app.inject(request(key, idsB, a.owner.headers));
      expect(response.statusCode, `${key}: ${response.body}`).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect(await snapshotCounts(app, b.tenant)).toEqual(before);
    // B's task is untouched and still readable by B.
    const task = await ok<TaskJson>(caller(app, b.owner)('GET', `/tasks/${idsB.task}`));
    expect(task.title).toBe('T');
  });

  it("B's ids in A's bodies and filters are unknown in A: 422 on writes, nothing found on reads", async () => {
    const owner = caller(app, a.owner);
    const before = await snapshotCounts(app, a.tenant);
    for (const body of [
      { title: 'x', list_uuid: idsB.list },
      { title: 'x', tags: [idsB.tag] },
      { title: 'x', assignees: [b.owner.uuid] },
    ]) {
      const response = await owner('POST', '/tasks/', body);
      expect(response.statusCode, response.body).toBe(422);
    }
    expect((await owner('PATCH', `/tasks/${idsA.task}`, { tags: [idsB.tag] })).statusCode).toBe(422);
    expect(await snapshotCounts(app, a.tenant)).toEqual(before);
    for (const query of [`list=${idsB.list}`, `tag=${idsB.tag}`, `assignee=${b.owner.uuid}`]) {
      const page = await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?${query}`));
      expect(page.total, query).toBe(0);
    }
    const all = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?size=100'));
    expect(all.items.map((t) => t.uuid)).not.toContain(idsB.task);
  });

  it('injection payloads in path, query and body are data, never SQL', async () => {
    const owner = caller(app, a.owner);
    const evil = "x'; DROP TABLE tasks; --";
    expect((await owner('GET', `/tasks/${encodeURIComponent(evil)}`)).statusCode).toBe(400);
    expect((await owner('GET', `/tasks/?search=${encodeURIComponent(evil)}`)).statusCode).toBe(200);
    expect((await owner('GET', `/tasks/?sort=${encodeURIComponent(evil)}`)).statusCode).toBe(400);
    const created = await createTask(owner, { title: evil, description: evil });
    expect(created.title).toBe(evil);
    expect(
      (await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?search=${encodeURIComponent('DROP TABLE')}`)))
        .total,
    ).toBe(1);
  });
});
