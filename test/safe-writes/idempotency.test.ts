/**
 * Idempotency-Key (issue 19): replay of the first answer, 422 for another request under the same key,
 * 409 while the first runs, 400 for a malformed key, and 20 concurrent requests with one key → one effect.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRUNE_IDEMPOTENCY_TASK, pruneIdempotencyKeys } from '../../src/jobs/cleanup.ts';
import { cronSchedules } from '../../src/jobs/schedules.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createList, ok, rowCount } from '../todo/support.ts';
import { stateOf } from './support.ts';

const context = await usersApp({ poolSize: 10 });
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

const post = (url: string, key: string, payload: unknown, headers = users.owner.headers) =>
  app.inject({
    method: 'POST',
    url,
    headers: { ...headers, 'idempotency-key': key },
    payload: payload as object,
  });

describe('Idempotency-Key', () => {
  it('a retry with the same key and body replays the first answer and changes nothing', async () => {
    const key = randomUUID();
    const first = await post('/tasks/', key, { title: 'once' });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers['idempotency-replayed']).toBeUndefined();
    const before = await stateOf(app, users.tenant);
    const retry = await post('/tasks/', key, { title: 'once' });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotency-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    expect(retry.headers.etag).toBe(first.headers.etag);
    expect(retry.headers['content-type']).toBe(first.headers['content-type']);
    expect(await stateOf(app, users.tenant)).toEqual(before);
  });

  it('the same key with another body answers 422 and changes nothing', async () => {
    const key = randomUUID();
    await ok(post('/lists/', key, { name: 'first body' }), 201);
    const before = await stateOf(app, users.tenant);
    const other = await post('/lists/', key, { name: 'second body' });
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toContain('application/problem+json');
    expect(await stateOf(app, users.tenant)).toEqual(before);
  });

  it('the same key on another path is another request (422)', async () => {
    const key = randomUUID();
    await ok(post('/tags/', key, { name: `tag ${key}` }), 201);
    expect((await post('/lists/', key, { name: `tag ${key}` })).statusCode).toBe(422);
  });

  it('keys are per user: another user may use the same key for their own request', async () => {
    const key = randomUUID();
    await ok(post('/tasks/', key, { title: 'mine' }), 201);
    const theirs = await post('/tasks/', key, { title: 'theirs' }, users.member.headers);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotency-replayed']).toBeUndefined();
  });

  it('refuses a malformed key with 400 before anything runs', async () => {
    const count = await rowCount(app, users.tenant, 'lists');
    for (const key of ['x'.repeat(256), 'naïve', 'tab\there']) {
      const answer = await post('/lists/', key, { name: 'never' });
      expect(answer.statusCode, key).toBe(400);
    }
    expect(await rowCount(app, users.tenant, 'lists')).toBe(count);
    expect((await post('/lists/', 'x'.repeat(255), { name: 'longest key' })).statusCode).toBe(201);
  });

  it('error answers are kept too: a replayed 404 stays a 404 even once the object exists', async () => {
    const key = randomUUID();
    const missing = randomUUID();
    const first = await app.inject({
      method: 'DELETE',
      url: `/lists/${missing}`,
      headers: { ...users.owner.headers, 'idempotency-key': key },
    });
    expect(first.statusCode).toBe(404);
    const retry = await app.inject({
      method: 'DELETE',
      url: `/lists/${missing}`,
      headers: { ...users.owner.headers, 'idempotency-key': key },
    });
    expect(retry.statusCode).toBe(404);
    expect(retry.headers['idempotency-replayed']).toBe('true');
  });

  it('20 concurrent requests with one key: exactly one effect, the others 409 or a replay', async () => {
    const list = await createList(owner, `crowd ${randomUUID()}`);
    const key = randomUUID();
    const body = { title: 'exactly once', list_uuid: list.uuid };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('/tasks/', key, body)));
    const statuses = answers.map((answer) => answer.statusCode);
    const fresh = answers.filter((a) => a.statusCode === 201 && !a.headers['idempotency-replayed']);
    expect(fresh, statuses.join(',')).toHaveLength(1);
    for (const answer of answers) {
      if (answer.statusCode === 409) expect(answer.headers['retry-after']).toBe('1');
      else {
        expect(answer.statusCode).toBe(201);
        expect(answer.body).toBe(fresh[0]?.body);
      }
    }
    const tasks = await ok<{ total: number }>(owner('GET', `/tasks/?list=${list.uuid}`));
    expect(tasks.total).toBe(1);
  });

  it('a key whose first request is still running answers 409 (row claimed, lease not over)', async () => {
    const key = randomUUID();
    const db = app.core.hosts.schemaDb('default', users.tenant);
    // As a request in flight leaves it: claimed, running, lease in the future.
    const first = await post('/tags/', key, { name: `lease ${key}` });
    expect(first.statusCode).toBe(201);
    await db
      .updateTable('idempotency_keys')
      .set({ state: 'running', status_code: null, locked_until: new Date(Date.now() + 60_000) })
      .where('key', '=', key)
      .execute();
    const retry = await post('/tags/', key, { name: `lease ${key}` });
    expect(retry.statusCode).toBe(409);
    // A lease that ran out (its process died after claiming): the retry takes the key over and runs.
    await db
      .updateTable('idempotency_keys')
      .set({ locked_until: new Date(Date.now() - 1000) })
      .where('key', '=', key)
      .execute();
    const takeover = await post('/tags/', key, { name: `lease ${key}` });
    // The tag exists already (the first request did commit): the rerun answers the unique conflict.
    expect(takeover.statusCode).toBe(409);
    expect(takeover.headers['idempotency-replayed']).toBeUndefined();
  });

  it('expired keys are pruned by the hourly job; live ones stay and still replay', async () => {
    expect(cronSchedules({ reconcileIntervalS: 60 }).map((s) => s.task)).toContain(PRUNE_IDEMPOTENCY_TASK);
    const [old, live] = [randomUUID(), randomUUID()];
    await ok(post('/lists/', old, { name: `old ${old}` }), 201);
    await ok(post('/lists/', live, { name: `live ${live}` }), 201);
    const db = app.core.hosts.schemaDb('default', users.tenant);
    await db
      .updateTable('idempotency_keys')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('key', '=', old)
      .execute();
    const pruned = await pruneIdempotencyKeys(app.core);
    expect(pruned.keys).toBeGreaterThanOrEqual(1);
    expect(pruned.failed).toEqual([]);
    const left = await db
      .selectFrom('idempotency_keys')
      .select('key')
      .where('key', 'in', [old, live])
      .execute();
    expect(left.map((row) => row.key)).toEqual([live]);
    expect((await post('/lists/', live, { name: `live ${live}` })).headers['idempotency-replayed']).toBe(
      'true',
    );
  });
});
