/**
 * Gap-free cursors under concurrent writers: 24 HTTP writers (creations, moves in one list — which shift
 * siblings —, renames, comments) and 4 raw transactions that write an event early and then sleep before
 * committing (the case that defeats a plain sequence: a later id commits first and a reader polling in
 * between steps over the earlier one for good), while a reader polls `/sync` in small pages throughout.
 * The reader must see every event exactly once, in id order, ids dense — and the same set as the table.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createList, createTask, ok, type TaskJson } from '../todo/support.ts';
import { type FeedEventJson, syncPage } from './support.ts';

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

/** A transaction that records a timeline event at once, then holds it open before committing. */
async function slowWriter(taskId: string, actorId: string, rounds: number): Promise<void> {
  const client = new pg.Client({ connectionString: app.core.hosts.url('default') });
  await client.connect();
  try {
    for (let i = 0; i < rounds; i++) {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO "${users.tenant}".change_events (entity, entity_id, actor_id, action, after)
         VALUES ('task', $1, $2, 'updated', '{"note": "slow"}')`,
        [taskId, actorId],
      );
      await client.query('SELECT pg_sleep(0.03)');
      await client.query(i % 3 === 2 ? 'ROLLBACK' : 'COMMIT');
    }
  } finally {
    await client.end();
  }
}

describe('GET /sync under concurrent writers', () => {
  it('gives a polling reader every event exactly once, in order, with no gaps', async () => {
    const list = await createList(owner, 'Busy');
    const seeds: TaskJson[] = [];
    for (let i = 0; i < 6; i++)
      seeds.push(await createTask(owner, { title: `seed ${i}`, list_uuid: list.uuid }));
    let cursor: string | undefined;
    for (let page = await syncPage(owner, cursor, 1000); ; page = await syncPage(owner, cursor, 1000)) {
      cursor = page.cursor;
      if (!page.has_more) break;
    }

    const { rows } = await sql<{ task: string; actor: string }>`
      SELECT (SELECT id FROM ${sql.table(`${users.tenant}.tasks`)} WHERE uuid = ${seeds[0]!.uuid}) AS task,
             (SELECT id FROM ${sql.table(`${users.tenant}.users`)} WHERE uuid = ${users.owner.uuid}) AS actor`.execute(
      app.core.hosts.db(),
    );
    const ids = rows[0]!;

    const seen: FeedEventJson[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const page = await syncPage(owner, cursor, 7);
        seen.push(...page.items);
        cursor = page.cursor;
      }
    })();

    const writers = Array.from({ length: 24 }, async (_, i) => {
      const task = await createTask(owner, { title: `writer ${i}`, list_uuid: list.uuid });
      await ok(owner('PATCH', `/tasks/${task.uuid}`, { position: 1 + (i % 5) }));
      await ok(owner('PATCH', `/tasks/${seeds[i % seeds.length]!.uuid}`, { title: `seed renamed by ${i}` }));
      await ok(owner('POST', `/tasks/${task.uuid}/comments`, { body: `comment ${i}` }), 201);
    });
    const slow = Array.from({ length: 4 }, () => slowWriter(ids.task, ids.actor, 6));
    await Promise.all([...writers, ...slow]);
    writing = false;
    await reader;
    for (;;) {
      const page = await syncPage(owner, cursor, 50);
      seen.push(...page.items);
      cursor = page.cursor;
      if (!page.has_more) break;
    }

    const numbers = seen.map((event) => Number(event.id));
    expect(new Set(numbers).size, 'no event twice').toBe(numbers.length);
    expect(numbers, 'in order').toEqual([...numbers].sort((a, b) => a - b));
    const first = numbers[0]!;
    expect(numbers, 'dense').toEqual(numbers.map((_, i) => first + i));
    const stored = (
      await sql<{ id: string }>`
        SELECT id FROM ${sql.table(`${users.tenant}.change_events`)} WHERE id >= ${first} ORDER BY id`.execute(
        app.core.hosts.db(),
      )
    ).rows;
    expect(numbers).toEqual(stored.map((row) => Number(row.id)));
    // 24 creations + 24 moves (+ shifted siblings) + 24 renames + 24 comments (×2) + 16 slow commits.
    expect(numbers.length).toBeGreaterThan(24 * 5 + 16);
  });
});
