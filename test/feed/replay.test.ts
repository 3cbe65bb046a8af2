/**
 * "A client that applies the feed reaches exactly the server's state": a mixed workload over every
 * entity of the feed (tasks moved, reordered, assigned, tagged, deleted and restored; lists archived;
 * a tag force-deleted; comments edited and deleted; users, groups and settings), pulled in small pages
 * in between, then the replica is compared with the GET answers, field by field. An entity whose change
 * the feed missed (a sibling shifted by a move, a cascade, a route without an explicit event) differs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TENANT_DEFAULTS } from '../../src/routes/settings/catalogue.ts';
import { addMember, type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createList,
  createTag,
  createTask,
  ok as okWithVersions,
  type PageJson,
  type TaskJson,
} from '../todo/support.ts';
import { Replica, syncPage } from './support.ts';

/**
 * The answers without `version`: the row version behind ETag/If-Match (issue 19) is concurrency state a
 * client reads with GET before a conditional write; the feed carries the entities' data, not it.
 */
function withoutVersions<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutVersions) as T;
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (key !== 'version') copy[key] = withoutVersions(item);
  return copy as T;
}
const ok = async <T = Record<string, unknown>>(
  response: Parameters<typeof okWithVersions>[0],
  status?: number,
): Promise<T> => withoutVersions(await okWithVersions<T>(response, status));

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
let member: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  member = caller(app, users.member);
});

const sorted = (values: string[]) => [...values].sort();

async function workload(replica: Replica) {
  const inbox = await createTask(owner, { title: 'inbox task' });
  const home = await createList(owner, 'Home');
  const work = await createList(owner, 'Work');
  const red = await createTag(owner, 'red');
  const blue = await createTag(owner, 'blue');
  const a = await createTask(owner, { title: 'a', list_uuid: home.uuid, tags: [red.uuid] });
  const b = await createTask(member, { title: 'b', list_uuid: home.uuid, assignees: [users.member.uuid] });
  const c = await createTask(owner, { title: 'c', list_uuid: home.uuid, tags: [red.uuid, blue.uuid] });
  await replica.pull(owner, 3);
  // Moves shift siblings' positions: those rows change without a request naming them.
  await ok(owner('PATCH', `/tasks/${c.uuid}`, { position: 1 }));
  await ok(
    owner('PATCH', `/tasks/${a.uuid}`, {
      list_uuid: work.uuid,
      status: 'done',
      assignees: [users.owner.uuid],
    }),
  );
  await ok(
    owner('PATCH', `/tasks/${b.uuid}`, {
      title: 'b, renamed',
      priority: 'urgent',
      due_at: '2027-01-02T03:04:05.678Z',
    }),
  );
  await ok(owner('DELETE', `/tasks/${inbox.uuid}`), 204);
  await ok(owner('DELETE', `/tasks/${b.uuid}`), 204);
  await ok(owner('POST', `/tasks/${b.uuid}/restore`));
  await replica.pull(owner, 2);
  // Force-deleting a tag in use unlinks it from tasks (a cascade of task changes), then the tag goes.
  await ok(owner('DELETE', `/tags/${red.uuid}?force=true`), 204);
  await ok(owner('PATCH', `/tags/${blue.uuid}`, { name: 'navy', color: '#000080' }));
  const comment = await ok<{ uuid: string }>(
    member('POST', `/tasks/${c.uuid}/comments`, { body: 'hi' }),
    201,
  );
  const gone = await ok<{ uuid: string }>(owner('POST', `/tasks/${c.uuid}/comments`, { body: 'bye' }), 201);
  await ok(member('PATCH', `/comments/${comment.uuid}`, { body: 'hello' }));
  await ok(owner('DELETE', `/comments/${gone.uuid}`), 204);
  await ok(owner('PATCH', `/lists/${home.uuid}`, { name: 'House', position: 2 }));
  await ok(owner('PATCH', `/lists/${work.uuid}`, { archived: true }));
  const extra = await addMember(app, users.owner, { first_name: 'Eve', last_name: 'Extra' });
  await ok(owner('PATCH', `/users/${extra.uuid}`, { last_name: 'Renamed' }));
  const team = await ok<{ uuid: string }>(
    owner('POST', '/groups/', { name: 'Team', member_uuids: [users.member.uuid, extra.uuid] }),
    201,
  );
  const temp = await ok<{ uuid: string }>(owner('POST', '/groups/', { name: 'Temp' }), 201);
  await ok(owner('PATCH', `/groups/${team.uuid}`, { name: 'Core team', member_uuids: [extra.uuid] }));
  await ok(owner('DELETE', `/groups/${temp.uuid}`), 204);
  await ok(owner('DELETE', `/users/${extra.uuid}`), 204);
  await ok(owner('PUT', '/settings/', { week_start: 'sunday', default_task_priority: 'high' }));
  await ok(owner('PUT', '/settings/', { default_task_priority: null }));
  await ok(owner('PUT', '/settings/me', { theme: 'dark' }));
  await ok(member('PUT', '/settings/me', { theme: 'light' }));
}

describe('replaying the feed', () => {
  it('rebuilds every entity exactly as the API answers it', async () => {
    const replica = new Replica();
    await workload(replica);
    await replica.pull(owner, 7);

    // Tasks: live ones by the listing, soft-deleted ones by the trash.
    const live = (await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?size=100'))).items;
    const trash = (await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?size=100&deleted=true'))).items;
    const tasks = [...live, ...trash];
    expect(replica.table('task').size).toBe(tasks.length);
    for (const task of tasks) {
      const { assignees, tags, ...fields } = task;
      expect(replica.table('task').get(task.uuid), task.title).toEqual({
        ...fields,
        assignees: sorted(assignees.map((x) => x.uuid)),
        tags: sorted(tags.map((x) => x.uuid)),
      });
    }

    const lists = (await ok<PageJson<Record<string, unknown>>>(owner('GET', '/lists/?archived=true'))).items;
    expect(replica.table('list').size).toBe(lists.length);
    for (const { task_count: _count, ...list } of lists)
      expect(replica.table('list').get(String(list.uuid))).toEqual(list);

    const tags = (await ok<PageJson<Record<string, unknown>>>(owner('GET', '/tags/'))).items;
    expect(replica.table('tag').size).toBe(tags.length);
    for (const { task_count: _count, ...tag } of tags)
      expect(replica.table('tag').get(String(tag.uuid))).toEqual(tag);

    const comments = new Map<string, Record<string, unknown>>();
    for (const task of live) {
      const page = await ok<PageJson<{ uuid: string; body: string; author: { uuid: string } }>>(
        owner('GET', `/tasks/${task.uuid}/comments`),
      );
      for (const comment of page.items) comments.set(comment.uuid, comment);
    }
    const liveComments = [...replica.table('comment').values()].filter((c) => c.deleted_at === null);
    expect(liveComments.length).toBe(comments.size);
    for (const copy of liveComments) {
      const { author, ...answer } = comments.get(String(copy.uuid)) as { author: { uuid: string } };
      expect(copy).toEqual({ ...answer, author_uuid: author.uuid, deleted_at: null });
    }

    const people = (
      await ok<PageJson<Record<string, unknown> & { role: { name: string } }>>(
        owner('GET', '/users/?size=100'),
      )
    ).items;
    const liveUsers = [...replica.table('user').values()].filter((u) => u.deleted_at === null);
    expect(liveUsers.length).toBe(people.length);
    for (const { role, ...person } of people) {
      expect(replica.table('user').get(String(person.uuid))).toEqual({
        ...person,
        role: role.name,
        deleted_at: null,
      });
    }

    const groups = (
      await ok<
        PageJson<{ uuid: string; name: string; description: string; created_at: string; updated_at: string }>
      >(owner('GET', '/groups/'))
    ).items;
    expect(replica.table('group').size).toBe(groups.length);
    for (const group of groups) {
      const detail = await ok<{ members: Array<{ uuid: string }> }>(owner('GET', `/groups/${group.uuid}`));
      expect(replica.table('group').get(group.uuid)).toEqual({
        uuid: group.uuid,
        name: group.name,
        description: group.description,
        members: sorted(detail.members.map((m) => m.uuid)),
        created_at: group.created_at,
        updated_at: group.updated_at,
      });
    }

    // Settings: the copy holds what differs from the defaults; the API answers defaults overlaid.
    const tenantCopy = Object.fromEntries(
      [...replica.table('setting').entries()]
        .filter(([key]) => key.startsWith('tenant:'))
        .map(([, row]) => [row.key, row.value]),
    );
    expect(await ok(owner('GET', '/settings/'))).toEqual({ ...TENANT_DEFAULTS, ...tenantCopy });
    const mine = [...replica.table('setting').keys()].filter((key) => key.startsWith(`${users.owner.uuid}:`));
    expect(mine).toEqual([`${users.owner.uuid}:theme`]);
    expect((await ok<{ theme: string }>(owner('GET', '/settings/me'))).theme).toBe('dark');

    // Every event exactly once, ids dense; another user's own settings stay out of the owner's feed.
    const ids = replica.seen.map((event) => Number(event.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(replica.seen.some((e) => e.key.startsWith(`${users.member.uuid}:`))).toBe(false);
  });

  it('names the actor of what a request changed, and ends with has_more false at the head', async () => {
    const replica = new Replica();
    await replica.pull(owner, 1000);
    const task = await createTask(member, { title: 'by the member' });
    const page = await syncPage(owner, replica.cursor);
    const created = page.items.find((e) => e.key === task.uuid);
    expect(created).toMatchObject({
      type: 'task.created',
      actor_uuid: users.member.uuid,
      data: { title: 'by the member' },
    });
    expect(page.has_more).toBe(false);
    const again = await syncPage(owner, page.cursor);
    expect(again).toEqual({ items: [], cursor: page.cursor, has_more: false });
  });

  it('refuses a cursor it did not make (400)', async () => {
    for (const cursor of [
      'nope',
      Buffer.from('c1.99999999').toString('base64url'),
      Buffer.from('c1.-1').toString('base64url'),
    ]) {
      const answer = await owner('GET', `/sync?cursor=${cursor}`);
      expect(answer.statusCode, cursor).toBe(400);
      expect(answer.headers['content-type']).toContain('application/problem+json');
    }
  });
});
