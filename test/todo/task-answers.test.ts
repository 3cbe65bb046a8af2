/**
 * The task answers are JSON text made by PostgreSQL (task-reads.ts for reads, task-create.ts for POST), sent
 * as they are: no serialiser checks them on the way out. So every route that answers a task is checked
 * here against the schema it documents in /docs/json (made strict: no unlisted property), and the two
 * statements that write the JSON are checked against each other — same fields, order and formats.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ResponseChecker } from '../../bench/response-check.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createList, createTag, ok, type PageJson, type TaskJson } from './support.ts';

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
let checker: ResponseChecker;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  checker = new ResponseChecker((await app.inject({ method: 'GET', url: '/docs/json' })).json());
});

async function answer(call: Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>) {
  const response = await call;
  expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  return { status: response.statusCode, body: JSON.parse(response.body) as unknown, text: response.body };
}

describe('task answers made by PostgreSQL', () => {
  it('match the documented schemas on every route that answers a task', async () => {
    const list = await createList(owner, 'Answers');
    const tag = await createTag(owner, 'schema "quoted" \\ tag');
    const created = await answer(
      owner('POST', '/tasks/', {
        title: 'Ünïcode title with "quotes", a tab\tand a newline\n',
        description: 'line one\nline two — ✓',
        list_uuid: list.uuid,
        due_at: '2030-02-03T04:05:06.789Z',
        tags: [tag.uuid],
        assignees: [users.owner.uuid, users.member.uuid],
      }),
    );
    expect(created.status).toBe(201);
    checker.check('POST', '/tasks/', 201, created.body);
    const task = created.body as TaskJson;
    expect(task.title).toBe('Ünïcode title with "quotes", a tab\tand a newline\n');
    expect(task.due_at).toBe('2030-02-03T04:05:06.789Z');
    expect(task.tags.map((t) => t.name)).toEqual(['schema "quoted" \\ tag']);
    // Assignees come sorted by e-mail, whatever order the client sent.
    const emails = task.assignees.map((a) => a.email);
    expect(emails).toEqual([...emails].sort());

    const one = await answer(owner('GET', `/tasks/${task.uuid}`));
    checker.check('GET', '/tasks/{uuid}', 200, one.body);
    expect(one.body).toEqual(task);

    const page = await answer(owner('GET', '/tasks/?sort=due_at'));
    checker.check('GET', '/tasks/', 200, page.body);
    expect((page.body as PageJson<TaskJson>).items).toContainEqual(task);

    const patched = await answer(owner('PATCH', `/tasks/${task.uuid}`, { status: 'done', tags: [] }));
    checker.check('PATCH', '/tasks/{uuid}', 200, patched.body);
    expect(patched.body).toMatchObject({ status: 'done', tags: [] });

    expect((await owner('DELETE', `/tasks/${task.uuid}`)).statusCode).toBe(204);
    const trash = await answer(owner('GET', '/tasks/?deleted=true'));
    checker.check('GET', '/tasks/', 200, trash.body);
    const restored = await answer(owner('POST', `/tasks/${task.uuid}/restore`));
    checker.check('POST', '/tasks/{uuid}/restore', 200, restored.body);
    expect(restored.body).toMatchObject({ uuid: task.uuid, deleted_at: null, status: 'done' });
  });

  it('are field for field the same from the creation statement and from the read statement', async () => {
    const built = await answer(owner('POST', '/tasks/', { title: 'Plain', due_at: '2031-05-06T07:08:09Z' }));
    const read = await answer(owner('GET', `/tasks/${(built.body as TaskJson).uuid}`));
    expect(read.body).toEqual(built.body);
    expect(Object.keys(read.body as object)).toEqual(Object.keys(built.body as object));
  });

  it('an empty page past the end still carries the total', async () => {
    const page = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?page=999'));
    expect(page.items).toEqual([]);
    expect(page.total).toBeGreaterThan(0);
    expect(page.pages).toBe(Math.ceil(page.total / page.size));
  });
});
