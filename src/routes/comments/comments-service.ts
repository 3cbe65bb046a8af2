/**
 * Rules of comments: anyone who sees a task may comment on it; the author, or a holder of TASK_EDIT,
 * may edit or delete a comment (an ownership rule, so it lives here rather than in the route's declared
 * permission). Every write records a `commented` event on the task in the same transaction — creation
 * (after only), edit (before and after), deletion (before only) — so the timeline shows the discussion
 * as it happened.
 */
import type { Permission } from '../../auth/permissions.ts';
import { checkVersion } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import { type Page, pageOf } from '../auth/schemas.ts';
import type { TodoDb } from '../tasks/tables.ts';
import { TasksRepository } from '../tasks/tasks-repository.ts';
import type { Actor } from '../tasks/tasks-service.ts';
import { type CommentRow, CommentsRepository } from './comments-repository.ts';
import type { CommentBody } from './schemas.ts';

export function commentBody(row: CommentRow): CommentBody {
  return {
    uuid: row.uuid,
    task_uuid: row.task_uuid,
    author: { uuid: row.author_uuid, first_name: row.author_first_name, last_name: row.author_last_name },
    body: row.body,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

export interface CommentActor extends Actor {
  permissions: ReadonlySet<Permission>;
}

export class CommentsService {
  constructor(
    private readonly db: TodoDb,
    private readonly schema: string,
  ) {}

  async page(taskUuid: string, page: number, size: number): Promise<Page<CommentBody>> {
    const task = await new TasksRepository(this.db, this.schema).liveId(taskUuid);
    if (!task) throw problems.notFound('task', taskUuid);
    const { rows, total } = await new CommentsRepository(this.db).page(task, (page - 1) * size, size);
    return pageOf(rows.map(commentBody), total, page, size);
  }

  async create(taskUuid: string, body: string, actor: Actor): Promise<CommentBody> {
    const uuid = await this.db.transaction().execute(async (trx) => {
      const tasks = new TasksRepository(trx, this.schema);
      // The task row lock makes a concurrent delete wait: the comment and its event land on a live task.
      const task = await tasks.lock(taskUuid, 'live');
      if (!task) throw problems.notFound('task', taskUuid);
      const created = await new CommentsRepository(trx).insert(task.id, actor.id, body);
      await tasks.appendEvents(task.id, actor.id, [
        { action: 'commented', before: null, after: { comment: created, body } },
      ]);
      return created;
    });
    return this.get(uuid);
  }

  async get(uuid: string): Promise<CommentBody> {
    const row = await new CommentsRepository(this.db).find(uuid);
    if (!row) throw problems.notFound('comment', uuid);
    return commentBody(row);
  }

  /** Edits (`body`) or deletes (`null`) a comment, if the actor may. */
  async change(
    uuid: string,
    body: string | null,
    actor: CommentActor,
    ifMatch?: string,
  ): Promise<CommentBody | undefined> {
    await this.db.transaction().execute(async (trx) => {
      const comments = new CommentsRepository(trx);
      const comment = await comments.find(uuid, true);
      if (!comment) throw problems.notFound('comment', uuid);
      if (comment.author_id !== actor.id && !actor.permissions.has('TASK_EDIT'))
        throw problems.forbidden('Only the author or a holder of TASK_EDIT may change this comment');
      await checkVersion(trx, 'comments', uuid, ifMatch);
      if (body === null) await comments.softDelete(comment.id);
      else await comments.update(comment.id, body);
      await new TasksRepository(trx, this.schema).appendEvents(comment.task_id, actor.id, [
        {
          action: 'commented',
          before: { comment: comment.uuid, body: comment.body },
          after: body === null ? null : { comment: comment.uuid, body },
        },
      ]);
    });
    return body === null ? undefined : this.get(uuid);
  }
}
