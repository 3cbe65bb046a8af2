/**
 * Rules for groups: names unique case-insensitively (409 from the index), members given as a set of user
 * uuids that replaces the previous set; an unknown or deleted user is a 422 naming the position.
 */
import type { AccountDb } from '../../auth/tables.ts';
import { checkVersion } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import { type Page, pageOf } from '../auth/schemas.ts';
import { type GroupSort, GroupsRepository, type MemberRow } from './groups-repository.ts';

export interface GroupSummary {
  uuid: string;
  name: string;
  description: string;
  member_count: number;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface GroupView extends GroupSummary {
  members: MemberRow[];
}

export interface GroupInput {
  name?: string;
  description?: string;
  member_uuids?: string[];
}

export class GroupsService {
  async list(
    db: AccountDb,
    query: { page: number; size: number; sort: GroupSort; order: 'asc' | 'desc'; search?: string },
  ): Promise<Page<GroupSummary>> {
    const { rows, total } = await new GroupsRepository(db).page({
      search: query.search,
      sort: query.sort,
      order: query.order,
      offset: (query.page - 1) * query.size,
      limit: query.size,
    });
    const items = rows.map(({ id: _id, ...row }) => ({
      ...row,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    }));
    return pageOf(items, total, query.page, query.size);
  }

  async get(db: AccountDb, uuid: string): Promise<GroupView> {
    const groups = new GroupsRepository(db);
    const group = await groups.find(uuid);
    if (!group) throw problems.notFound('group', uuid);
    const members = await groups.members(group.id);
    const { id: _id, ...rest } = group;
    return {
      ...rest,
      member_count: members.length,
      members,
      created_at: group.created_at.toISOString(),
      updated_at: group.updated_at.toISOString(),
    };
  }

  async create(db: AccountDb, input: GroupInput & { name: string }): Promise<GroupView> {
    return db.transaction().execute(async (trx) => {
      const groups = new GroupsRepository(trx);
      const memberIds = await this.resolveMembers(groups, input.member_uuids ?? []);
      const created = await groups.insert({
        name: input.name.trim(),
        description: input.description?.trim() ?? '',
      });
      await groups.setMembers(created.id, memberIds);
      return this.get(trx, created.uuid);
    });
  }

  async update(db: AccountDb, uuid: string, input: GroupInput, ifMatch?: string): Promise<GroupView> {
    return db.transaction().execute(async (trx) => {
      const groups = new GroupsRepository(trx);
      const group = await groups.find(uuid);
      if (!group) throw problems.notFound('group', uuid);
      await checkVersion(trx, 'groups', uuid, ifMatch);
      await groups.update(group.id, { name: input.name?.trim(), description: input.description?.trim() });
      if (input.member_uuids)
        await groups.setMembers(group.id, await this.resolveMembers(groups, input.member_uuids));
      return this.get(trx, uuid);
    });
  }

  async delete(db: AccountDb, uuid: string, ifMatch?: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const groups = new GroupsRepository(trx);
      const group = await groups.find(uuid);
      if (!group) throw problems.notFound('group', uuid);
      await checkVersion(trx, 'groups', uuid, ifMatch);
      await groups.delete(group.id);
    });
  }

  private async resolveMembers(groups: GroupsRepository, uuids: string[]): Promise<string[]> {
    const ids = await groups.userIds(uuids);
    const errors = uuids.flatMap((uuid, i) =>
      ids.has(uuid) ? [] : [{ path: `/body/member_uuids/${i}`, message: 'is not a user of this tenant' }],
    );
    if (errors.length > 0) throw problems.unprocessable('Some members are not users of this tenant', errors);
    return [...ids.values()];
  }
}
