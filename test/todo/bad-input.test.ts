/**
 * Bad input on the TODO routes: schema violations → 400, references that do not exist here or a window
 * that cannot match → 422, an unknown resource → 404 — always problem+json, and nothing written (row
 * counts of every TODO table compared before and after).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createList,
  createTag,
  createTask,
  ok,
  snapshotCounts,
  type TaskJson,
} from './support.ts';

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
let task: TaskJson;
let tag: string;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  await createList(owner, 'L');
  tag = (await createTag(owner, 'T')).uuid;
  task = await createTask(owner, { title: 'original', tags: [tag] });
});

const DUPLICATE = randomUUID();
/** `body` may be a function: evaluated when the test runs, after the seed exists. */
type Case = [
  label: string,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: () => string,
  body: unknown,
  status: number,
];

const cases: Case[] = [
  ['unknown status', 'POST', () => '/tasks/', { title: 'x', status: 'blocked' }, 400],
  ['unknown priority', 'POST', () => '/tasks/', { title: 'x', priority: 'critical' }, 400],
  ['a date that is not a date', 'POST', () => '/tasks/', { title: 'x', due_at: 'tomorrow' }, 400],
  [
    'a date that does not exist',
    'POST',
    () => '/tasks/',
    { title: 'x', due_at: '2025-02-30T10:00:00Z' },
    400,
  ],
  ['a date without a zone', 'POST', () => '/tasks/', { title: 'x', due_at: '2025-02-03T10:00:00' }, 400],
  ['title over 500 characters', 'POST', () => '/tasks/', { title: 'a'.repeat(501) }, 400],
  [
    'description over 20,000 characters',
    'POST',
    () => '/tasks/',
    { title: 'x', description: 'a'.repeat(20_001) },
    400,
  ],
  ['empty title', 'POST', () => '/tasks/', { title: '' }, 400],
  ['blank title', 'POST', () => '/tasks/', { title: '   ' }, 400],
  ['no title', 'POST', () => '/tasks/', {}, 400],
  ['unknown property', 'POST', () => '/tasks/', { title: 'x', owner: 'me' }, 400],
  ['malformed assignee id', 'POST', () => '/tasks/', { title: 'x', assignees: ['not-a-uuid'] }, 400],
  ['duplicate assignee', 'POST', () => '/tasks/', { title: 'x', assignees: [DUPLICATE, DUPLICATE] }, 400],
  ['unknown list', 'POST', () => '/tasks/', { title: 'x', list_uuid: randomUUID() }, 422],
  ['unknown tag', 'POST', () => '/tasks/', () => ({ title: 'x', tags: [tag, randomUUID()] }), 422],
  ['unknown assignee', 'POST', () => '/tasks/', { title: 'x', assignees: [randomUUID()] }, 422],
  ['empty patch', 'PATCH', () => `/tasks/${task.uuid}`, {}, 400],
  ['patch: unknown status', 'PATCH', () => `/tasks/${task.uuid}`, { status: 'blocked' }, 400],
  ['patch: negative position', 'PATCH', () => `/tasks/${task.uuid}`, { position: -1 }, 400],
  ['patch: title over 500', 'PATCH', () => `/tasks/${task.uuid}`, { title: 'a'.repeat(501) }, 400],
  // The valid part of a patch is not applied when another part refers to something unknown.
  [
    'patch: unknown assignee',
    'PATCH',
    () => `/tasks/${task.uuid}`,
    { title: 'changed', assignees: [randomUUID()] },
    422,
  ],
  ['patch: unknown tag', 'PATCH', () => `/tasks/${task.uuid}`, { status: 'done', tags: [randomUUID()] }, 422],
  [
    'patch: unknown list',
    'PATCH',
    () => `/tasks/${task.uuid}`,
    { title: 'changed', list_uuid: randomUUID() },
    422,
  ],
  ['patch: unknown task', 'PATCH', () => `/tasks/${randomUUID()}`, { title: 'x' }, 404],
  ['get: malformed id', 'GET', () => '/tasks/123', undefined, 400],
  ['get: unknown task', 'GET', () => `/tasks/${randomUUID()}`, undefined, 404],
  ['delete: unknown task', 'DELETE', () => `/tasks/${randomUUID()}`, undefined, 404],
  ['restore: a live task', 'POST', () => `/tasks/${task.uuid}/restore`, undefined, 404],
  ['events: unknown task', 'GET', () => `/tasks/${randomUUID()}/events`, undefined, 404],
  ['filter: unknown status', 'GET', () => '/tasks/?status=blocked', undefined, 400],
  ['filter: unknown priority', 'GET', () => '/tasks/?priority=critical', undefined, 400],
  ['filter: bad date', 'GET', () => '/tasks/?due_before=yesterday', undefined, 400],
  [
    'filter: due_before before due_after',
    'GET',
    () => '/tasks/?due_before=2024-01-01T00:00:00Z&due_after=2024-06-01T00:00:00Z',
    undefined,
    422,
  ],
  [
    'filter: due_before equal to due_after',
    'GET',
    () => '/tasks/?due_before=2024-01-01T00:00:00Z&due_after=2024-01-01T00:00:00Z',
    undefined,
    422,
  ],
  ['filter: malformed list', 'GET', () => '/tasks/?list=abc', undefined, 400],
  ['page size 0', 'GET', () => '/tasks/?size=0', undefined, 400],
  ['page size 101', 'GET', () => '/tasks/?size=101', undefined, 400],
  ['page 0', 'GET', () => '/tasks/?page=0', undefined, 400],
  ['comment: empty body', 'POST', () => `/tasks/${task.uuid}/comments`, { body: '' }, 400],
  ['comment: too long', 'POST', () => `/tasks/${task.uuid}/comments`, { body: 'a'.repeat(10_001) }, 400],
  ['comment on an unknown task', 'POST', () => `/tasks/${randomUUID()}/comments`, { body: 'x' }, 404],
  ['tag: name too long', 'POST', () => '/tags/', { name: 'a'.repeat(51) }, 400],
  ['tag: colour not hex', 'POST', () => '/tags/', { name: 'x', color: 'red' }, 400],
  ['tag: duplicate name', 'POST', () => '/tags/', { name: 't' }, 409],
  ['list: empty name', 'POST', () => '/lists/', { name: '' }, 400],
  ['list: unknown', 'PATCH', () => `/lists/${randomUUID()}`, { name: 'x' }, 404],
];

describe('bad input', () => {
  it.each(cases)('%s', async (_label, method, url, body, status) => {
    const before = await snapshotCounts(app, users.tenant);
    const response = await owner(method, url(), typeof body === 'function' ? body() : body);
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem.status).toBe(status);
    if (status === 400 || status === 422) expect(problem.title).toEqual(expect.any(String));
    expect(await snapshotCounts(app, users.tenant)).toEqual(before);
  });

  it('422s name the offending entries', async () => {
    const unknown = randomUUID();
    const response = await owner('POST', '/tasks/', {
      title: 'x',
      tags: [tag, unknown],
      assignees: [unknown],
    });
    expect(response.json().errors).toEqual([
      { path: '/body/assignees/0', message: 'no such user' },
      { path: '/body/tags/1', message: 'no such tag' },
    ]);
  });

  it('the task is exactly as before after every refused change', async () => {
    const now = await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`));
    expect(now).toEqual(task);
  });
});
