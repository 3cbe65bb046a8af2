/**
 * The change feed's read side (`GET /sync`) and its retention. Events are written by the database
 * (tenant revision 53ef3f6ee276): ids follow commit order with no gaps, so "every event with an id above
 * the cursor, in id order" is a prefix of the log at any moment — never a hole a slower transaction fills
 * later — and the cursor of a page is simply the last id it covered.
 */
import { sql } from 'kysely';
import type { Permission } from '../../auth/permissions.ts';
import { problems } from '../../http/problem.ts';
import type { TodoDb } from '../tasks/tables.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

export interface FeedEvent {
  /** The event's number in this tenant's log (a decimal string): the key to notice a duplicate. */
  id: string;
  /** `<entity>.<action>`, e.g. `task.created`, `task.status_changed`, `setting.deleted`. */
  type: string;
  entity: string;
  /** The entity's uuid (for a setting: `<user uuid | tenant>:<key>`). */
  key: string;
  action: string;
  actor_uuid: string | null;
  occurred_at: string;
  before: unknown;
  after: unknown;
  /** The entity as this event's transaction committed it; null once it is gone (hard delete). */
  data: unknown;
}

export interface FeedPage {
  items: FeedEvent[];
  cursor: string;
  has_more: boolean;
}

interface EventRow {
  id: string;
  entity: string;
  entity_key: string | null;
  action: string;
  actor_uuid: string | null;
  created_at: string;
  before: unknown;
  after: unknown;
  data: unknown;
}

export function toFeedEvent(row: EventRow): FeedEvent {
  return {
    id: row.id,
    type: `${row.entity}.${row.action}`,
    entity: row.entity,
    key: row.entity_key ?? '',
    action: row.action,
    actor_uuid: row.actor_uuid,
    occurred_at: row.created_at,
    before: row.before ?? null,
    after: row.after ?? null,
    data: row.data ?? null,
  };
}

/** Who reads: what they may see of the log (the log itself is the same for everyone). */
export interface Reader {
  userUuid: string;
  permissions: ReadonlySet<Permission>;
}

export async function head(db: TodoDb): Promise<{ lastId: bigint; prunedThrough: bigint }> {
  const row = await db
    .selectFrom('change_head')
    .select(['last_id', 'pruned_through'])
    .executeTakeFirstOrThrow();
  return { lastId: BigInt(row.last_id), prunedThrough: BigInt(row.pruned_through) };
}

/** Up to `limit` events of the log after `after`, in order (the rows themselves, whoever reads). */
export function eventsAfter(db: TodoDb, after: bigint, limit: number) {
  return db
    .selectFrom('change_events as e')
    .leftJoin('users as u', 'u.id', 'e.actor_id')
    .select([
      'e.id',
      'e.entity',
      'e.entity_key',
      'e.action',
      'u.uuid as actor_uuid',
      sql<string>`to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.as('created_at'),
      'e.before',
      'e.after',
      'e.data',
    ])
    .where('e.id', '>', after.toString())
    .orderBy('e.id')
    .limit(limit)
    .execute();
}

/**
 * The reader sees every event except what its role may not read: other users' own settings always, and
 * users without USER_VIEW. Those events still move the cursor (a filtered page may hold fewer items).
 */
function visible(reader: Reader, event: FeedEvent): boolean {
  if (event.entity === 'setting')
    return event.key.startsWith('tenant:') || event.key.startsWith(`${reader.userUuid}:`);
  if (event.entity === 'user') return reader.permissions.has('USER_VIEW');
  return true;
}

/**
 * One page of the feed after `cursor` (absent: the beginning). A cursor before the retained part of the
 * log → 410 with the current head, from which a client that reloaded everything can continue.
 */
export async function readFeed(
  db: TodoDb,
  reader: Reader,
  cursor: string | undefined,
  limit: number,
): Promise<FeedPage> {
  const after = cursor === undefined ? 0n : decodeCursor(cursor);
  // Events first, then the head: pruning that ran before the events were read is seen by the later
  // read of the head too, so a page is never answered across a pruned hole.
  const rows = await eventsAfter(db, after, limit + 1);
  const { lastId, prunedThrough } = await head(db);
  if (after < prunedThrough) {
    throw problems.gone('The cursor is older than the retained changes: do a full resync', {
      resync: true,
      head_cursor: encodeCursor(lastId),
    });
  }
  if (after > lastId) {
    throw problems.badRequest('The cursor is ahead of this tenant’s changes', [
      { path: '/query/cursor', message: 'unknown cursor' },
    ]);
  }
  const page = rows.slice(0, limit).map(toFeedEvent);
  const last = page.at(-1)?.id ?? after.toString();
  return {
    items: page.filter((event) => visible(reader, event)),
    cursor: encodeCursor(last),
    has_more: rows.length > limit,
  };
}

/**
 * Deletes the events older than `retentionDays` (one transaction; the append-only trigger lets this
 * transaction delete because it says so) and records the last id deleted, the bound below which a
 * cursor answers 410. Returns how many events went.
 */
export async function pruneFeed(db: TodoDb, retentionDays: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT set_config('tenantry.prune', 'on', true)`.execute(trx);
    const cutoff = await trx
      .selectFrom('change_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .where('created_at', '<', sql<Date>`now() - make_interval(days => ${retentionDays})`)
      .executeTakeFirst();
    const through = cutoff?.id;
    if (through === null || through === undefined) return 0;
    const deleted = await trx.deleteFrom('change_events').where('id', '<=', through).executeTakeFirst();
    await trx
      .updateTable('change_head')
      .set({ pruned_through: sql<string>`greatest(pruned_through, ${through}::bigint)` })
      .execute();
    return Number(deleted.numDeletedRows);
  });
}
