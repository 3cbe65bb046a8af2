/**
 * Concurrency and query economy of tasks:
 *  - two PATCHes of one task at once both land (two timeline events) and the final row is the later
 *    one, sets included — the task row lock serialises them. A test transaction holds that lock until
 *    both requests are waiting on it, so they really do race rather than happen to run one by one;
 *  - a page of 50 tasks with tags and assignees costs the same number of queries as a page of 1
 *    (counted on pg's Client.prototype.query, leaving out the job runner's own pool), and POST /tasks/ without sets is one statement (plus the
 *    one round trip that takes its list's position lock, and COMMIT).
 */
import pg from 'pg';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { JOB_RUNNER_APPLICATION_NAME } from '../../src/jobs/jobs-plugin.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createTag,
  createTask,
  type EventJson,
  ok,
  type PageJson,
  type TaskJson,
} from './support.ts';

type ClientWithParameters = pg.Client & { connectionParameters?: { application_name?: string } };

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
let tags: string[];

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  tags = [];
  for (const name of ['one', 'two', 'three']) tags.push((await createTag(owner, name)).uuid);
});

/** Holds the task's row lock in a separate connection until `release()`. */
async function holdTaskLock(taskUuid: string) {
  const client = new pg.Client({ connectionString: app.core.hosts.url('default') });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM "${users.tenant}".tasks WHERE uuid = $1 FOR UPDATE`, [taskUuid]);
  return {
    /**
     * Waits until `count` sessions of this (per-file) database wait on a lock: the first waits on this
     * transaction, the second on the first's tuple lock.
     */
    async waiters(count: number) {
      for (let i = 0; i < 200; i++) {
        // pg_stat_activity is snapshotted once per transaction, and this client is inside one.
        await client.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        if (rows[0].n >= count) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await client.query('ROLLBACK');
      await client.end();
      throw new Error(`fewer than ${count} sessions waited on the lock`);
    },
    async release() {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

describe('concurrent patches of one task', () => {
  it('both land as two events; the final row, sets included, equals the later patch', async () => {
    for (let round = 0; round < 3; round++) {
      const task = await createTask(owner, { title: 'race', tags: [tags[0]!] });
      const lock = await holdTaskLock(task.uuid);
      const first = owner('PATCH', `/tasks/${task.uuid}`, { title: 'from A', tags: [tags[1]!] });
      const second = owner('PATCH', `/tasks/${task.uuid}`, { title: 'from B', tags: [tags[2]!, tags[0]!] });
      await lock.waiters(2);
      await lock.release();
      const [a, b] = await Promise.all([first, second]);
      expect(a.statusCode, a.body).toBe(200);
      expect(b.statusCode, b.body).toBe(200);

      const events = (await ok<PageJson<EventJson>>(owner('GET', `/tasks/${task.uuid}/events`))).items;
      expect(events.map((e) => e.action)).toEqual(['created', 'updated', 'updated']);
      const [, earlier, later] = events as [EventJson, EventJson, EventJson];
      // The later patch saw the earlier one's result: nothing was lost in between.
      expect(later.before).toEqual({ title: earlier.after?.title, tags: earlier.after?.tags });
      const final = await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`));
      expect(final.title).toBe(later.after?.title);
      expect(final.tags.map((t) => t.uuid).sort()).toEqual(later.after?.tags);
    }
  });

  it('assignee sets: the later replace-set wins and both changes are on the timeline', async () => {
    const task = await createTask(owner, { title: 'assign race' });
    const lock = await holdTaskLock(task.uuid);
    const first = owner('PATCH', `/tasks/${task.uuid}`, { assignees: [users.owner.uuid] });
    const second = owner('PATCH', `/tasks/${task.uuid}`, { assignees: [users.member.uuid] });
    await lock.waiters(2);
    await lock.release();
    const [a, b] = await Promise.all([first, second]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const events = (await ok<PageJson<EventJson>>(owner('GET', `/tasks/${task.uuid}/events`))).items;
    // First: assigned X. Second: assigned Y and unassigned X (it saw X).
    expect(events.map((e) => e.action)).toEqual(['created', 'assigned', 'assigned', 'unassigned']);
    const winner = (events[2]?.after?.assignees as string[])[0];
    expect(events[3]?.before).toEqual({ assignees: events[1]?.after?.assignees });
    const final = await ok<TaskJson>(owner('GET', `/tasks/${task.uuid}`));
    expect(final.assignees.map((u) => u.uuid)).toEqual([winner]);
  });
});

describe('queries per request', () => {
  async function queriesOf(run: () => Promise<unknown>): Promise<number> {
    const spy = vi.spyOn(pg.Client.prototype, 'query');
    try {
      await run();
      // Only the request's connections: the job runner polls and beats on its own pool in this process.
      return spy.mock.contexts.filter(
        (client) =>
          (client as ClientWithParameters).connectionParameters?.application_name !==
          JOB_RUNNER_APPLICATION_NAME,
      ).length;
    } finally {
      spy.mockRestore();
    }
  }

  it('a page of 50 tasks with tags and assignees is as many queries as a page of 1', async () => {
    const other = await tenantWithUsers(context);
    const call = caller(app, other.owner);
    const tagIds: string[] = [];
    for (const name of ['a', 'b', 'c']) tagIds.push((await createTag(call, name)).uuid);
    for (let i = 0; i < 50; i++)
      await createTask(call, {
        title: `task ${i}`,
        status: 'todo',
        due_at: new Date(Date.UTC(2030, 0, 1 + i)).toISOString(),
        tags: [tagIds[i % 3]!, tagIds[(i + 1) % 3]!],
        assignees: [other.owner.uuid, other.member.uuid],
      });
    await ok(call('GET', '/tasks/?size=1')); // warm the registry cache
    let page: PageJson<TaskJson> | undefined;
    const fifty = await queriesOf(async () => {
      page = await ok<PageJson<TaskJson>>(call('GET', '/tasks/?status=todo&sort=due_at&size=50'));
    });
    const one = await queriesOf(() => ok(call('GET', '/tasks/?status=todo&sort=due_at&size=1')));
    expect(page?.items).toHaveLength(50);
    expect(page?.items.every((t) => t.tags.length === 2 && t.assignees.length === 2)).toBe(true);
    expect(fifty).toBe(one);
    // The session lookup + the page query.
    expect(fifty).toBeLessThanOrEqual(2);

    // The session lookup, `BEGIN; SELECT pg_advisory_xact_lock(…)` (the list's position lock, issue 14),
    // the creation statement, COMMIT.
    const create = await queriesOf(() => createTask(call, { title: 'lean' }));
    expect(create).toBeLessThanOrEqual(4);
  });
});
