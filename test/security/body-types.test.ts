/**
 * A JSON body is validated as sent: a string where a number belongs, a list where a string belongs or a
 * number where a boolean belongs is a 400 naming the field, and nothing is written. Query strings are
 * text and keep being coerced (`?size=2`, a single `?status=todo`). See src/http/validation.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createTask,
  ok,
  type PageJson,
  snapshotCounts,
  type TaskJson,
} from '../todo/support.ts';

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
let task: TaskJson;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  task = await createTask(owner, { title: 'typed' });
});

describe('body types', () => {
  const cases: Array<
    [label: string, method: 'POST' | 'PATCH', url: () => string, body: object, field: string]
  > = [
    ['a list for a string', 'POST', () => '/tasks/', { title: ['x'] }, '/body/title'],
    ['a number for a string', 'POST', () => '/tasks/', { title: 5 }, '/body/title'],
    ['a string for an integer', 'PATCH', () => `/tasks/${task.uuid}`, { position: '3' }, '/body/position'],
    ['a string for a list', 'POST', () => '/tasks/', { title: 'ok', tags: 'not-a-list' }, '/body/tags'],
    [
      'a string for a boolean',
      'PATCH',
      () => `/users/${users.member.uuid}`,
      { is_active: 'false' },
      '/body/is_active',
    ],
  ];

  for (const [label, method, url, body, field] of cases) {
    it(`${label} → 400 naming ${field}, nothing written`, async () => {
      const before = await snapshotCounts(app, users.tenant);
      const response = await owner(method, url(), body);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const paths = (response.json().errors as Array<{ path: string }>).map((e) => e.path);
      expect(
        paths.some((path) => path.startsWith(field)),
        JSON.stringify(paths),
      ).toBe(true);
      expect(await snapshotCounts(app, users.tenant)).toEqual(before);
    });
  }

  it('query strings are still coerced from text', async () => {
    const page = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?size=2&status=todo&overdue=false'));
    expect(page.size).toBe(2);
    expect(page.items.every((t) => t.status === 'todo')).toBe(true);
  });
});
