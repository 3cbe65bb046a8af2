/**
 * Positions under concurrency (issue 14): 50 concurrent reorders of one list, concurrent moves between two
 * lists, concurrent creations, deletions and restores — every answer 2xx (before: 36 × 500 deadlock 40P01
 * on reorders, 4 × 500 on moves, 30 creations → 7 distinct positions) and afterwards each list's live
 * positions are exactly 1..n. Lists' own positions likewise. And the transaction helper retries a real
 * deadlock once (src/db/transaction.ts).
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/transaction.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createList, createTask, ok, type PageJson, type TaskJson } from './support.ts';

const context = await usersApp({ poolSize: 20 });
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

/** Live positions of a list (`inbox` for the inbox), in position order. */
async function positions(list: string): Promise<number[]> {
  const page = await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?list=${list}&sort=position&size=100`));
  return page.items.map((task) => task.position);
}

const dense = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function expectAll(answers: Array<{ statusCode: number; body: string }>, status: number) {
  const wrong = answers.filter((answer) => answer.statusCode !== status);
  expect(wrong.map((answer) => `${answer.statusCode} ${answer.body}`)).toEqual([]);
}

async function tasksIn(list: string | null, count: number, label: string): Promise<TaskJson[]> {
  const tasks: TaskJson[] = [];
  for (let i = 0; i < count; i++)
    tasks.push(await createTask(owner, { title: `${label} ${i}`, ...(list ? { list_uuid: list } : {}) }));
  return tasks;
}

describe('task positions under concurrency', () => {
  it('50 concurrent reorders of one list: all 200, positions 1..n', async () => {
    const list = await createList(owner, 'reorders');
    const tasks = await tasksIn(list.uuid, 10, 'r');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        owner('PATCH', `/tasks/${tasks[i % 10]!.uuid}`, { position: ((i * 7) % 10) + 1 }),
      ),
    );
    expectAll(answers, 200);
    expect(await positions(list.uuid)).toEqual(dense(10));
  });

  it('concurrent moves between two lists (and the inbox): all 200, every list 1..n', async () => {
    const a = await createList(owner, 'move a');
    const b = await createList(owner, 'move b');
    const inA = await tasksIn(a.uuid, 12, 'a');
    const inB = await tasksIn(b.uuid, 12, 'b');
    const answers = await Promise.all([
      ...inA.map((task, i) =>
        owner('PATCH', `/tasks/${task.uuid}`, {
          list_uuid: i % 3 === 2 ? null : b.uuid,
          ...(i % 2 ? { position: 1 + (i % 5) } : {}),
        }),
      ),
      ...inB.map((task, i) =>
        owner('PATCH', `/tasks/${task.uuid}`, { list_uuid: a.uuid, ...(i % 2 ? {} : { position: 2 }) }),
      ),
      ...inA.map((task) => owner('PATCH', `/tasks/${task.uuid}`, { position: 1 })),
    ]);
    expectAll(answers, 200);
    const [inListA, inListB, inbox] = await Promise.all([
      positions(a.uuid),
      positions(b.uuid),
      positions('inbox'),
    ]);
    expect(inListA.length + inListB.length).toBe(24 - 4);
    expect(inListA).toEqual(dense(inListA.length));
    expect(inListB).toEqual(dense(inListB.length));
    expect(inbox).toEqual(dense(inbox.length));
  });

  it('30 concurrent creations in one list and in the inbox get positions 1..30', async () => {
    const list = await createList(owner, 'creations');
    const before = (await positions('inbox')).length;
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        owner('POST', '/tasks/', { title: `c ${i}`, ...(i % 2 ? { list_uuid: list.uuid } : {}) }),
      ),
    );
    expectAll(answers, 201);
    expect(await positions(list.uuid)).toEqual(dense(30));
    expect(await positions('inbox')).toEqual(dense(before + 30));
  });

  it('concurrent deletes, restores, reorders and creations keep 1..n', async () => {
    const list = await createList(owner, 'mixed');
    const tasks = await tasksIn(list.uuid, 16, 'm');
    for (const task of tasks.slice(0, 4)) await ok(owner('DELETE', `/tasks/${task.uuid}`), 204);
    const answers = await Promise.all([
      ...tasks.slice(0, 4).map((task) => owner('POST', `/tasks/${task.uuid}/restore`)),
      ...tasks.slice(4, 10).map((task) => owner('DELETE', `/tasks/${task.uuid}`)),
      ...tasks.slice(10).map((task, i) => owner('PATCH', `/tasks/${task.uuid}`, { position: i + 1 })),
      ...Array.from({ length: 6 }, (_, i) =>
        owner('POST', '/tasks/', { title: `n ${i}`, list_uuid: list.uuid }),
      ),
    ]);
    expect(answers.filter((a) => a.statusCode >= 300).map((a) => `${a.statusCode} ${a.body}`)).toEqual([]);
    expect(await positions(list.uuid)).toEqual(dense(16 - 6 + 6));
  });

  it('a position past the end means the end; below 1 the start', async () => {
    const list = await createList(owner, 'clamp');
    const [a, b] = await tasksIn(list.uuid, 3, 'k');
    expect((await ok<TaskJson>(owner('PATCH', `/tasks/${a!.uuid}`, { position: 99 }))).position).toBe(3);
    expect((await ok<TaskJson>(owner('PATCH', `/tasks/${a!.uuid}`, { position: 0 }))).position).toBe(1);
    const other = await createList(owner, 'clamp 2');
    const moved = await ok<TaskJson>(
      owner('PATCH', `/tasks/${b!.uuid}`, { list_uuid: other.uuid, position: 7 }),
    );
    expect(moved.position).toBe(1);
    expect(await positions(list.uuid)).toEqual(dense(2));
  });
});

describe('list positions under concurrency', () => {
  it('concurrent creations, reorders and deletions of lists: all 2xx, positions 1..n', async () => {
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) => owner('POST', '/lists/', { name: `L${i}` })),
    );
    expectAll(created, 201);
    const lists = created.map((answer) => answer.json() as { uuid: string });
    const answers = await Promise.all([
      ...lists
        .slice(0, 15)
        .map((list, i) => owner('PATCH', `/lists/${list.uuid}`, { position: (i % 4) + 1 })),
      ...lists.slice(15).map((list) => owner('DELETE', `/lists/${list.uuid}`)),
    ]);
    expectAll(answers, 200);
    const all = await ok<PageJson<{ position: number }>>(
      owner('GET', '/lists/?size=100&archived=true&sort=position'),
    );
    expect(all.items.map((list) => list.position)).toEqual(dense(all.total));
  });
});

describe('inTransaction', () => {
  it('runs a transaction that lost a real deadlock once more, so both sides succeed', async () => {
    const db = app.core.hosts.db();
    await sql`CREATE TABLE IF NOT EXISTS public.deadlock_probe (id int PRIMARY KEY, n int NOT NULL)`.execute(
      db,
    );
    await sql`INSERT INTO public.deadlock_probe VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING`.execute(db);
    let attempts = 0;
    let arrived = 0;
    const bothHoldTheirFirstRow = () =>
      new Promise<void>((resolve) => {
        arrived++;
        const wait = () => (arrived >= 2 ? resolve() : setTimeout(wait, 5));
        wait();
      });
    const side = (first: number, second: number) =>
      inTransaction(db, async (trx) => {
        attempts++;
        await sql`UPDATE public.deadlock_probe SET n = n + 1 WHERE id = ${first}`.execute(trx);
        if (attempts <= 2) await bothHoldTheirFirstRow();
        await sql`UPDATE public.deadlock_probe SET n = n + 1 WHERE id = ${second}`.execute(trx);
      });
    await Promise.all([side(1, 2), side(2, 1)]);
    expect(attempts).toBe(3);
    const rows = await sql<{ n: number }>`SELECT n FROM public.deadlock_probe ORDER BY id`.execute(db);
    expect(rows.rows.map((row) => row.n)).toEqual([2, 2]);
  });

  it('gives up after one retry: the second failure reaches the caller', async () => {
    let attempts = 0;
    const failing = inTransaction(app.core.hosts.db(), async () => {
      attempts++;
      throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
    });
    await expect(failing).rejects.toMatchObject({ code: '40P01' });
    expect(attempts).toBe(2);
  });
});
