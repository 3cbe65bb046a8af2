/**
 * Revision 53ef3f6ee276 moves the task timeline into the change feed: a tenant with timeline rows,
 * taken down to the revision before (the rows go back into a `task_events` table) and up again, answers
 * the same timeline, in order, with the same actors; the feed then holds those rows as `task.*` events
 * with the task's state; and the catalog is the same as before the round trip.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createTag,
  createTask,
  type EventJson,
  ok,
  type PageJson,
} from '../todo/support.ts';
import { Replica } from './support.ts';

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

describe('the timeline moved into the feed', () => {
  it('survives down to 7f315a3921b2 and up again, and shows in the feed', async () => {
    const tag = await createTag(owner, 'moved');
    const task = await createTask(owner, { title: 'history', tags: [tag.uuid] });
    await ok(owner('PATCH', `/tasks/${task.uuid}`, { status: 'done', assignees: [users.member.uuid] }));
    await ok(owner('POST', `/tasks/${task.uuid}/comments`, { body: 'noted' }), 201);
    const timeline = async () =>
      (await ok<PageJson<EventJson>>(owner('GET', `/tasks/${task.uuid}/events`))).items;
    const before = await timeline();
    expect(before.map((e) => e.action)).toEqual(['created', 'status_changed', 'assigned', 'commented']);

    const db = app.core.hosts.db(DEFAULT_HOST);
    const target = { host: DEFAULT_HOST, db, schema: users.tenant };
    const catalog = await catalogSnapshot(db, users.tenant);
    await app.core.tenantRunner.downgrade(target, { to: '7f315a3921b2', allowDataLoss: true });
    const kept = await sql<{ action: string }>`
      SELECT action FROM ${sql.table(`${users.tenant}.task_events`)} ORDER BY id`.execute(db);
    expect(kept.rows.map((r) => r.action)).toEqual(before.map((e) => e.action));
    await app.core.tenantRunner.upgrade(target);
    expect(await catalogSnapshot(db, users.tenant)).toEqual(catalog);

    expect(await timeline()).toEqual(before);
    const replica = new Replica();
    await replica.pull(owner);
    const moved = replica.seen.filter((e) => e.key === task.uuid).slice(-4);
    expect(moved.map((e) => e.type)).toEqual([
      'task.created',
      'task.status_changed',
      'task.assigned',
      'task.commented',
    ]);
    expect(moved.every((e) => e.data?.status === 'done')).toBe(true);
    expect(moved.map((e) => e.actor_uuid)).toEqual(before.map((e) => e.actor.uuid));
  });
});
