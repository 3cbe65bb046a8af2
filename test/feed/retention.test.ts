/**
 * Retention of the change feed: the pruning job (cron `prune-change-feed`) deletes events older than
 * FEED_RETENTION_DAYS; a cursor from before them answers 410 "full resync" with the head to continue
 * from, a cursor inside the retained part keeps working, and nobody else may delete or rewrite events.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRUNE_FEED_TASK, pruneChangeFeeds } from '../../src/jobs/cleanup.ts';
import { cronSchedules } from '../../src/jobs/schedules.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createTask } from '../todo/support.ts';
import { Replica, syncPage } from './support.ts';

const context = await usersApp({ env: { FEED_RETENTION_DAYS: '3' } });
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

const table = (name: string) => sql.table(`${users.tenant}.${name}`);

describe('feed retention', () => {
  it('prunes past the retention; an older cursor gets 410 with the head, a newer one goes on', async () => {
    expect(cronSchedules({ reconcileIntervalS: 60 }).map((s) => s.task)).toContain(PRUNE_FEED_TASK);
    const early = new Replica();
    await createTask(owner, { title: 'old news' });
    await early.pull(owner);
    const old = await createTask(owner, { title: 'older than three days' });
    const middle = new Replica();
    await middle.pull(owner);
    await createTask(owner, { title: 'fresh' });

    // Age everything up to the middle cursor by four days (bypassing the append-only trigger, as only
    // a superuser can).
    const db = app.core.hosts.db();
    const last = Number((middle.seen.at(-1) as { id: string }).id);
    await db.transaction().execute(async (trx) => {
      await sql`SET LOCAL session_replication_role = replica`.execute(trx);
      await sql`UPDATE ${table('change_events')} SET created_at = now() - interval '4 days' WHERE id <= ${last}`.execute(
        trx,
      );
    });
    const pruned = await pruneChangeFeeds(app.core);
    expect(pruned.failed).toEqual([]);
    expect(pruned.events).toBe(last);

    for (const cursor of [early.cursor, undefined]) {
      const gone = await owner('GET', `/sync${cursor ? `?cursor=${cursor}` : ''}`);
      expect(gone.statusCode).toBe(410);
      expect(gone.headers['content-type']).toContain('application/problem+json');
      expect(gone.json()).toMatchObject({
        status: 410,
        resync: true,
        detail: expect.stringContaining('full resync'),
      });
      const resumed = await syncPage(owner, gone.json().head_cursor);
      expect(resumed).toMatchObject({ items: [], has_more: false });
    }
    const rest = await syncPage(owner, middle.cursor);
    expect(rest.items.map((e) => e.data?.title)).toEqual(['fresh']);
    expect(rest.items.some((e) => e.key === old.uuid)).toBe(false);

    // Pruning again changes nothing; the log refuses anyone else's DELETE, UPDATE and TRUNCATE.
    expect((await pruneChangeFeeds(app.core)).events).toBe(0);
    for (const statement of [
      sql`DELETE FROM ${table('change_events')}`,
      sql`UPDATE ${table('change_events')} SET action = 'deleted'`,
      sql`TRUNCATE ${table('change_events')}`,
    ]) {
      await expect(statement.execute(db)).rejects.toThrow(/append-only/);
    }
  });
});
