/**
 * Rules of tags: names unique case-insensitively (the unique index answers 409); a tag in use is deleted
 * only with `force`, which unlinks it from every task and records that on each task's timeline, in one
 * transaction. The tag row is locked first, so a task being tagged concurrently either lands before
 * (and is unlinked) or fails on the foreign key after.
 */
import { checkVersion } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import { type Page, pageOf } from '../auth/schemas.ts';
import type { TodoDb } from '../tasks/tables.ts';
import type { Actor } from '../tasks/tasks-service.ts';
import type { CreateTagBody, PatchTagBody, TagBody, TagQuery } from './schemas.ts';
import { type TagRow, TagsRepository } from './tags-repository.ts';

export function tagBody(row: TagRow): TagBody {
  return {
    uuid: row.uuid,
    name: row.name,
    color: row.color,
    task_count: row.task_count,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

export class TagsService {
  constructor(private readonly db: TodoDb) {}

  async page(query: TagQuery): Promise<Page<TagBody>> {
    const { rows, total } = await new TagsRepository(this.db).page({
      search: query.search,
      order: query.order,
      offset: (query.page - 1) * query.size,
      limit: query.size,
    });
    return pageOf(rows.map(tagBody), total, query.page, query.size);
  }

  async get(uuid: string): Promise<TagBody> {
    const row = await new TagsRepository(this.db).find(uuid);
    if (!row) throw problems.notFound('tag', uuid);
    return tagBody(row);
  }

  async create(input: CreateTagBody): Promise<TagBody> {
    const uuid = await new TagsRepository(this.db).insert({ name: input.name, color: input.color ?? null });
    return this.get(uuid);
  }

  async patch(uuid: string, input: PatchTagBody, ifMatch?: string): Promise<TagBody> {
    await this.db.transaction().execute(async (trx) => {
      const repo = new TagsRepository(trx);
      const tag = await repo.lock(uuid);
      if (!tag) throw problems.notFound('tag', uuid);
      await checkVersion(trx, 'tags', uuid, ifMatch);
      await repo.update(tag.id, input);
    });
    return this.get(uuid);
  }

  async remove(uuid: string, force: boolean, actor: Actor, ifMatch?: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const repo = new TagsRepository(trx);
      const tag = await repo.lock(uuid);
      if (!tag) throw problems.notFound('tag', uuid);
      await checkVersion(trx, 'tags', uuid, ifMatch);
      const usage = await repo.usage(tag.id);
      if (usage > 0) {
        if (!force)
          throw problems.conflict(
            `The tag is on ${usage} task(s); delete with ?force=true to unlink it from them`,
          );
        await repo.unlinkAll(tag.id, actor.id);
      }
      await repo.delete(tag.id);
    });
  }
}
