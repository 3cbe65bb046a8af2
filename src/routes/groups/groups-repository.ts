/** SQL of groups and group_members (tenant schema). */
import { sql } from 'kysely';
import type { AccountDb } from '../../auth/tables.ts';
import { containsPattern } from '../users/users-repository.ts';

export const GROUP_SORTS = ['name', 'created_at'] as const;
export type GroupSort = (typeof GROUP_SORTS)[number];

export interface GroupRow {
  id: string;
  uuid: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
  version: number;
  member_count: number;
}

export interface MemberRow {
  uuid: string;
  email: string;
  first_name: string;
  last_name: string;
}

export class GroupsRepository {
  constructor(private readonly db: AccountDb) {}

  private groups(search?: string) {
    let query = this.db.selectFrom('groups as g');
    if (search) query = query.where('g.name', 'ilike', containsPattern(search));
    return query;
  }

  async page(options: {
    search?: string;
    sort: GroupSort;
    order: 'asc' | 'desc';
    offset: number;
    limit: number;
  }): Promise<{ rows: GroupRow[]; total: number }> {
    const rows = await this.groups(options.search)
      .select(['g.id', 'g.uuid', 'g.name', 'g.description', 'g.created_at', 'g.updated_at', 'g.version'])
      .select((eb) =>
        eb
          .selectFrom('group_members as gm')
          .whereRef('gm.group_id', '=', 'g.id')
          .select((inner) => inner.fn.countAll<string>().as('n'))
          .as('member_count'),
      )
      .select(sql<string>`count(*) over ()`.as('total'))
      .orderBy(options.sort === 'name' ? sql`lower(g.name)` : sql`g.created_at`, options.order)
      .orderBy('g.id', options.order)
      .offset(options.offset)
      .limit(options.limit)
      .execute();
    let total = Number(rows[0]?.total ?? 0);
    if (rows.length === 0 && options.offset > 0) {
      const counted = await this.groups(options.search)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      total = Number(counted.n);
    }
    return {
      rows: rows.map(({ total: _total, member_count, ...row }) => ({
        ...row,
        member_count: Number(member_count ?? 0),
      })),
      total,
    };
  }

  async find(uuid: string): Promise<Omit<GroupRow, 'member_count'> | undefined> {
    return this.db
      .selectFrom('groups')
      .select(['id', 'uuid', 'name', 'description', 'created_at', 'updated_at', 'version'])
      .where('uuid', '=', uuid)
      .executeTakeFirst();
  }

  members(groupId: string): Promise<MemberRow[]> {
    return this.db
      .selectFrom('group_members as gm')
      .innerJoin('users as u', 'u.id', 'gm.user_id')
      .select(['u.uuid', 'u.email', 'u.first_name', 'u.last_name'])
      .where('gm.group_id', '=', groupId)
      .where('u.deleted_at', 'is', null)
      .orderBy('u.email')
      .execute();
  }

  /** uuid → internal id of the live users among `uuids`. */
  async userIds(uuids: string[]): Promise<Map<string, string>> {
    if (uuids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'uuid'])
      .where('uuid', 'in', uuids)
      .where('deleted_at', 'is', null)
      .execute();
    return new Map(rows.map((row) => [row.uuid, row.id]));
  }

  async insert(group: { name: string; description: string }): Promise<{ id: string; uuid: string }> {
    return this.db.insertInto('groups').values(group).returning(['id', 'uuid']).executeTakeFirstOrThrow();
  }

  async update(id: string, changes: { name?: string; description?: string }): Promise<void> {
    await this.db
      .updateTable('groups')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Replaces the member set. */
  async setMembers(groupId: string, userIds: string[]): Promise<void> {
    await this.db.deleteFrom('group_members').where('group_id', '=', groupId).execute();
    if (userIds.length === 0) return;
    await this.db
      .insertInto('group_members')
      .values(userIds.map((userId) => ({ group_id: groupId, user_id: userId })))
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('groups').where('id', '=', id).execute();
  }
}
