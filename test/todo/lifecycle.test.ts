/**
 * A task's whole life through HTTP — create, edit, status changes, assign, tag, move, delete, restore —
 * with the timeline entry of every change and completed_at right at each step; lists (positions,
 * archive-on-delete), tags (force), comments (author or TASK_EDIT).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { addMember, type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createList,
  createTag,
  createTask,
  type EventJson,
  ok,
  type PageJson,
  type TaskJson,
} from './support.ts';

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

const events = async (uuid: string) =>
  (await ok<PageJson<EventJson>>(owner('GET', `/tasks/${uuid}/events`))).items;

describe('task lifecycle', () => {
  it('records every change on the timeline and keeps completed_at right', async () => {
    const list = await createList(owner, 'Launch');
    const tag = await createTag(owner, 'backend');
    const task = await createTask(member, {
      title: 'Write the release notes',
      list_uuid: list.uuid,
      priority: 'high',
    });
    expect(task).toMatchObject({ status: 'todo', completed_at: null, list_uuid: list.uuid, position: 1 });
    expect(task.author_uuid).toBe(users.member.uuid);

    const started = await ok<TaskJson>(member('PATCH', `/tasks/${task.uuid}`, { status: 'in_progress' }));
    expect(started.completed_at).toBeNull();

    const done = await ok<TaskJson>(member('PATCH', `/tasks/${task.uuid}`, { status: 'done' }));
    expect(done.completed_at).not.toBeNull();
    expect(Date.parse(done.completed_at!)).toBeGreaterThanOrEqual(Date.parse(task.created_at));

    const reopened = await ok<TaskJson>(member('PATCH', `/tasks/${task.uuid}`, { status: 'todo' }));
    expect(reopened.completed_at).toBeNull();

    const edited = await ok<TaskJson>(
      member('PATCH', `/tasks/${task.uuid}`, {
        title: 'Write and publish the release notes',
        due_at: '2030-01-15T09:00:00Z',
        assignees: [users.owner.uuid, users.member.uuid],
        tags: [tag.uuid],
      }),
    );
    expect(edited.title).toBe('Write and publish the release notes');
    expect(edited.due_at).toBe('2030-01-15T09:00:00.000Z');
    expect(edited.assignees.map((a) => a.uuid).sort()).toEqual([users.owner.uuid, users.member.uuid].sort());
    expect(edited.tags.map((t) => t.uuid)).toEqual([tag.uuid]);

    const unassigned = await ok<TaskJson>(
      member('PATCH', `/tasks/${task.uuid}`, { assignees: [users.member.uuid] }),
    );
    expect(unassigned.assignees.map((a) => a.uuid)).toEqual([users.member.uuid]);

    // The same values again: no change, no event.
    await ok(member('PATCH', `/tasks/${task.uuid}`, { title: 'Write and publish the release notes' }));

    const inbox = await ok<TaskJson>(member('PATCH', `/tasks/${task.uuid}`, { list_uuid: null }));
    expect(inbox.list_uuid).toBeNull();

    await ok(owner('DELETE', `/tasks/${task.uuid}`), 204);
    await ok(owner('GET', `/tasks/${task.uuid}`), 404);
    await ok(owner('PATCH', `/tasks/${task.uuid}`, { title: 'x' }), 404);
    await ok(owner('DELETE', `/tasks/${task.uuid}`), 404);
    const trash = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?deleted=true'));
    expect(trash.items.map((t) => t.uuid)).toContain(task.uuid);

    const restored = await ok<TaskJson>(owner('POST', `/tasks/${task.uuid}/restore`));
    expect(restored).toMatchObject({ uuid: task.uuid, deleted_at: null, status: 'todo', completed_at: null });
    await ok(owner('POST', `/tasks/${task.uuid}/restore`), 404);
    expect((await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`))).title).toBe(
      'Write and publish the release notes',
    );

    const timeline = await events(task.uuid);
    expect(timeline.map((e) => e.action)).toEqual([
      'created',
      'status_changed',
      'status_changed',
      'status_changed',
      'updated',
      'assigned',
      'unassigned',
      'updated',
      'deleted',
      'restored',
    ]);
    const [
      created,
      toProgress,
      toDone,
      toTodo,
      update,
      assigned,
      unassignedEvent,
      moved,
      deleted,
      restoredEvent,
    ] = timeline as [
      EventJson,
      EventJson,
      EventJson,
      EventJson,
      EventJson,
      EventJson,
      EventJson,
      EventJson,
      EventJson,
      EventJson,
    ];
    expect(created.actor.uuid).toBe(users.member.uuid);
    expect(created.after).toMatchObject({
      title: 'Write the release notes',
      priority: 'high',
      list: list.uuid,
      position: 1,
    });
    expect(toProgress.before).toEqual({ status: 'todo', completed_at: null });
    expect(toProgress.after).toEqual({ status: 'in_progress', completed_at: null });
    expect(toDone.after).toEqual({ status: 'done', completed_at: done.completed_at });
    expect(toTodo.before).toEqual({ status: 'done', completed_at: done.completed_at });
    expect(toTodo.after).toEqual({ status: 'todo', completed_at: null });
    expect(update.before).toEqual({ title: 'Write the release notes', due_at: null, tags: [] });
    expect(update.after).toEqual({
      title: 'Write and publish the release notes',
      due_at: '2030-01-15T09:00:00.000Z',
      tags: [tag.uuid],
    });
    expect((assigned.after?.assignees as string[]).sort()).toEqual(
      [users.owner.uuid, users.member.uuid].sort(),
    );
    expect(unassignedEvent.before).toEqual({ assignees: [users.owner.uuid] });
    expect(moved.before).toEqual({ list: list.uuid, position: 1 });
    expect(moved.after).toEqual({ list: null, position: 1 });
    expect(deleted.actor.uuid).toBe(users.owner.uuid);
    expect(deleted.after?.deleted_at).toEqual(expect.any(String));
    expect(restoredEvent.after).toEqual({ deleted_at: null });
  });

  it('creates a task done from the start with completed_at, and with its sets', async () => {
    const tag = await createTag(owner, 'ops');
    const task = await createTask(owner, {
      title: 'Already done',
      status: 'done',
      assignees: [users.member.uuid],
      tags: [tag.uuid],
    });
    expect(task.completed_at).not.toBeNull();
    expect(task.assignees.map((a) => a.uuid)).toEqual([users.member.uuid]);
    expect(task.tags.map((t) => t.name)).toEqual(['ops']);
    const [created] = await events(task.uuid);
    expect(created?.after).toMatchObject({
      status: 'done',
      assignees: [users.member.uuid],
      tags: [tag.uuid],
    });
  });

  it('reorders tasks within a list by position', async () => {
    const list = await createList(owner, 'Ordering');
    const a = await createTask(owner, { title: 'a', list_uuid: list.uuid });
    const b = await createTask(owner, { title: 'b', list_uuid: list.uuid });
    const c = await createTask(owner, { title: 'c', list_uuid: list.uuid });
    expect([a.position, b.position, c.position]).toEqual([1, 2, 3]);
    const titles = async () =>
      (await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?list=${list.uuid}&sort=position`))).items.map(
        (t) => `${t.title}${t.position}`,
      );
    await ok(owner('PATCH', `/tasks/${c.uuid}`, { position: 1 }));
    expect(await titles()).toEqual(['c1', 'a2', 'b3']);
    await ok(owner('PATCH', `/tasks/${c.uuid}`, { position: 3 }));
    expect(await titles()).toEqual(['a1', 'b2', 'c3']);
    // Moving into another list at a given position opens the slot there.
    const other = await createList(owner, 'Other');
    const x = await createTask(owner, { title: 'x', list_uuid: other.uuid });
    await ok(owner('PATCH', `/tasks/${a.uuid}`, { list_uuid: other.uuid, position: 1 }));
    const otherTitles = (
      await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?list=${other.uuid}&sort=position`))
    ).items;
    expect(otherTitles.map((t) => `${t.title}${t.position}`)).toEqual(['a1', 'x2']);
    expect(x.position).toBe(1);
    const [, event] = await events(a.uuid);
    expect(event).toMatchObject({
      action: 'updated',
      before: { list: list.uuid, position: 1 },
      after: { list: other.uuid, position: 1 },
    });
  });
});

describe('lists', () => {
  it('orders by position, reorders, deletes an empty list and archives one with tasks', async () => {
    const first = await createList(owner, 'L1');
    const second = await createList(owner, 'L2');
    expect(second.position).toBe(first.position + 1);
    await ok(owner('PATCH', `/lists/${second.uuid}`, { position: first.position }));
    const names = (
      await ok<PageJson<{ name: string; uuid: string }>>(owner('GET', '/lists/?size=100'))
    ).items.map((l) => l.name);
    expect(names.indexOf('L2')).toBeLessThan(names.indexOf('L1'));

    expect(await ok(owner('DELETE', `/lists/${first.uuid}`))).toEqual({ outcome: 'deleted', list: null });
    await ok(owner('GET', `/lists/${first.uuid}`), 404);

    await createTask(owner, { title: 'keeps the list alive', list_uuid: second.uuid });
    const archived = await ok<{ outcome: string; list: { archived_at: string | null; task_count: number } }>(
      owner('DELETE', `/lists/${second.uuid}`),
    );
    expect(archived.outcome).toBe('archived');
    expect(archived.list.archived_at).not.toBeNull();
    expect(archived.list.task_count).toBe(1);
    const visible = await ok<PageJson<{ uuid: string }>>(owner('GET', '/lists/?size=100'));
    expect(visible.items.map((l) => l.uuid)).not.toContain(second.uuid);
    const all = await ok<PageJson<{ uuid: string }>>(owner('GET', '/lists/?size=100&archived=true'));
    expect(all.items.map((l) => l.uuid)).toContain(second.uuid);
    // No new task goes into an archived list; bringing it back allows it again.
    const refused = await owner('POST', '/tasks/', { title: 't', list_uuid: second.uuid });
    expect(refused.statusCode).toBe(422);
    await ok(owner('PATCH', `/lists/${second.uuid}`, { archived: false }));
    await createTask(owner, { title: 't', list_uuid: second.uuid });
  });

  it('lets a MEMBER read lists but not manage them', async () => {
    await ok(member('GET', '/lists/'));
    await ok(member('POST', '/lists/', { name: 'nope' }), 403);
  });
});

describe('tags', () => {
  it('refuses to delete a tag in use unless forced, which unlinks it and records it', async () => {
    const keep = await createTag(owner, 'keep');
    const drop = await createTag(owner, 'drop');
    const task = await createTask(owner, { title: 'tagged', tags: [keep.uuid, drop.uuid] });
    const refused = await owner('DELETE', `/tags/${drop.uuid}`);
    expect(refused.statusCode).toBe(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    await ok(owner('DELETE', `/tags/${drop.uuid}?force=true`), 204);
    const after = await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`));
    expect(after.tags.map((t) => t.uuid)).toEqual([keep.uuid]);
    const last = (await events(task.uuid)).at(-1);
    expect(last?.action).toBe('updated');
    expect(last?.before).toEqual({ tags: [keep.uuid, drop.uuid].sort() });
    expect(last?.after).toEqual({ tags: [keep.uuid] });
    // An unused tag goes without force; names are unique case-insensitively.
    const unused = await createTag(owner, 'unused');
    await ok(owner('DELETE', `/tags/${unused.uuid}`), 204);
    expect((await owner('POST', '/tags/', { name: 'KEEP' })).statusCode).toBe(409);
    const renamed = await ok<{ name: string }>(
      owner('PATCH', `/tags/${keep.uuid}`, { name: 'kept', color: '#00aa00' }),
    );
    expect(renamed.name).toBe('kept');
  });
});

describe('comments', () => {
  it('lets anyone who sees the task comment, and the author or TASK_EDIT holders edit and delete', async () => {
    const task = await createTask(owner, { title: 'discuss' });
    const comment = await ok<{ uuid: string; body: string }>(
      member('POST', `/tasks/${task.uuid}/comments`, { body: 'first!' }),
      201,
    );
    const edited = await ok<{ body: string }>(
      member('PATCH', `/comments/${comment.uuid}`, { body: 'first, edited' }),
    );
    expect(edited.body).toBe('first, edited');
    // The owner holds TASK_EDIT: may edit someone else's comment.
    await ok(owner('PATCH', `/comments/${comment.uuid}`, { body: 'moderated' }));

    // A viewer without TASK_EDIT may not touch someone else's comment.
    const ownerComment = await ok<{ uuid: string }>(
      owner('POST', `/tasks/${task.uuid}/comments`, { body: 'mine' }),
      201,
    );
    const viewerRole = await ok<{ uuid: string }>(
      owner('POST', '/roles/', { name: 'VIEWER', title: 'Viewer', permissions: ['TASK_VIEW'] }),
      201,
    );
    const viewer = await addMember(app, users.owner, { first_name: 'Vic', last_name: 'Viewer' });
    await ok(owner('PATCH', `/users/${viewer.uuid}`, { role_uuid: viewerRole.uuid }));
    const asViewer = caller(app, viewer);
    const forbidden = await asViewer('PATCH', `/comments/${ownerComment.uuid}`, { body: 'hijack' });
    expect(forbidden.statusCode).toBe(403);
    expect((await asViewer('DELETE', `/comments/${ownerComment.uuid}`)).statusCode).toBe(403);

    await ok(member('DELETE', `/comments/${comment.uuid}`), 204);
    await ok(member('PATCH', `/comments/${comment.uuid}`, { body: 'gone' }), 404);
    const page = await ok<PageJson<{ uuid: string; body: string }>>(
      owner('GET', `/tasks/${task.uuid}/comments`),
    );
    expect(page.items.map((c) => c.body)).toEqual(['mine']);
    const commented = (await events(task.uuid)).filter((e) => e.action === 'commented');
    expect(commented.map((e) => [e.before?.body ?? null, e.after?.body ?? null])).toEqual([
      [null, 'first!'],
      ['first!', 'first, edited'],
      ['first, edited', 'moderated'],
      [null, 'mine'],
      ['moderated', null],
    ]);
  });
});
