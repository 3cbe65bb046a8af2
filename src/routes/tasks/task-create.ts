/**
 * POST /tasks/ as ONE statement (in a transaction that first takes the list's position lock): resolve the list, assignees and tags by uuid, insert the task at the end
 * of its list, its `created` event and its assignee and tag rows, and answer the task's JSON — or insert
 * nothing when a reference is unknown (the caller reads which one from the same answer). One statement is
 * atomic without BEGIN/COMMIT round trips, and as a prepared `SchemaStatement` it is planned once per
 * connection: the same creation cost PostgreSQL ~3.7 ms of CPU as seven planned statements in a transaction
 * (bench/analysis.md).
 *
 * The answer has the fields of `TaskBody` in its order, tags by name and assignees by e-mail, like
 * task-reads.ts (test/todo/task-answers.test.ts compares the two).
 */
import { CompiledQuery } from 'kysely';
import { isoSql, SchemaStatement, schemaBinding } from '../../db/hosts.ts';
import { inTransaction, onClientInTransaction } from '../../db/transaction.ts';
import type { TaskPriority, TaskStatus, TodoDb } from './tables.ts';
import { positionLocksSql } from './task-locks.ts';
import type { TaskJsonText } from './task-reads.ts';
import { LAST_POSITION } from './tasks-repository.ts';

export interface NewTask {
  /** null: the inbox. */
  listUuid: string | null;
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  dueAt: string | null;
  author: { id: string; uuid: string };
  assignees: readonly string[];
  tags: readonly string[];
  /** The `created` event's `after`, without what the statement adds (position, assignees, tags). */
  snapshot: Record<string, unknown>;
}

export interface CreateResult {
  /** The answer, or null when nothing was inserted. */
  body: TaskJsonText | null;
  /** Which of the wanted assignees and tags exist (and may be used). */
  foundAssignees: string[];
  foundTags: string[];
}

/**
 * $1 list uuid, $2 title, $3 description, $4 status, $5 priority, $6 due_at, $7 author id, $8 author
 * uuid, $9 assignee uuids, $10 tag uuids, $11 the event snapshot. Two texts: the inbox (`list_id IS NULL`)
 * and a list, so each position lookup keeps its own index condition in the generic plan.
 */
function createStatement(inbox: boolean): SchemaStatement {
  return new SchemaStatement(
    (t) => `
WITH ${inbox ? '' : `l AS (SELECT id FROM ${t('lists')} WHERE uuid = $1::uuid AND archived_at IS NULL),`}
u AS (
  -- Assignees must be able to sign in: live and active users only.
  SELECT id, uuid, email, first_name, last_name FROM ${t('users')}
  WHERE uuid = ANY($9::uuid[]) AND deleted_at IS NULL AND is_active
),
g AS (SELECT id, uuid, name, color FROM ${t('tags')} WHERE uuid = ANY($10::uuid[])),
t AS (
  INSERT INTO ${t('tasks')} (list_id, title, description, status, priority, due_at, completed_at, author_id, position)
  SELECT ${inbox ? 'NULL::bigint' : 'l.id'}, $2::text, $3::text, $4::text, $5::text, $6::timestamptz,
         CASE WHEN $4::text = 'done' THEN now() END, $7::bigint,
         coalesce((${LAST_POSITION(t('tasks'), inbox ? 'IS NULL' : '= l.id')}), 0) + 1
  FROM ${inbox ? '(SELECT) AS inbox' : 'l'}
  WHERE (SELECT count(*) FROM u) = cardinality($9::uuid[])
    AND (SELECT count(*) FROM g) = cardinality($10::uuid[])
  RETURNING *
),
e AS (
  INSERT INTO ${t('change_events')} (entity, entity_id, entity_key, actor_id, action, after)
  SELECT 'task', t.id, t.uuid::text, $7::bigint, 'created', $11::jsonb || jsonb_build_object(
    'position', t.position,
    'assignees', coalesce((SELECT jsonb_agg(u.uuid ORDER BY u.email) FROM u), '[]'),
    'tags', coalesce((SELECT jsonb_agg(g.uuid ORDER BY g.name) FROM g), '[]'))
  FROM t
),
ia AS (INSERT INTO ${t('task_assignees')} (task_id, user_id) SELECT t.id, u.id FROM t CROSS JOIN u),
ig AS (INSERT INTO ${t('task_tags')} (task_id, tag_id) SELECT t.id, g.id FROM t CROSS JOIN g)
SELECT
  (SELECT row_to_json(b)::text FROM (
    SELECT t.uuid, $1::uuid AS list_uuid, t.title, t.description, t.status, t.priority,
      ${isoSql('t.due_at')} AS due_at, ${isoSql('t.completed_at')} AS completed_at, t.position,
      $8::uuid AS author_uuid,
      coalesce((SELECT json_agg(x ORDER BY x.email) FROM (SELECT uuid, email, first_name, last_name FROM u) x), '[]') AS assignees,
      coalesce((SELECT json_agg(x ORDER BY x.name) FROM (SELECT uuid, name, color FROM g) x), '[]') AS tags,
      ${isoSql('t.created_at')} AS created_at, ${isoSql('t.updated_at')} AS updated_at,
      ${isoSql('t.deleted_at')} AS deleted_at, t.version
    FROM t) b) AS body,
  ARRAY(SELECT uuid::text FROM u) AS found_assignees,
  ARRAY(SELECT uuid::text FROM g) AS found_tags`,
  );
}

const INBOX = createStatement(true);
const IN_LIST = createStatement(false);

/**
 * Creates the task. "Position = last + 1" holds under concurrency because the list's position lock
 * (task-locks.ts) is taken before the statement starts — inside it, its snapshot would be older than the
 * lock and two creations would read the same last position. So: `BEGIN; SELECT pg_advisory_xact_lock(…)`
 * as one round trip, the prepared statement, COMMIT.
 */
export async function createTask(db: TodoDb, schema: string, task: NewTask): Promise<CreateResult> {
  const statement = task.listUuid === null ? INBOX : IN_LIST;
  const values = [
    task.listUuid,
    task.title,
    task.description,
    task.status,
    task.priority,
    task.dueAt,
    task.author.id,
    task.author.uuid,
    task.assignees,
    task.tags,
    JSON.stringify(task.snapshot),
  ];
  const lock = positionLocksSql(schema, [task.listUuid]);
  const binding = schemaBinding(db);
  const [row] = binding
    ? await onClientInTransaction(binding.connect, lock, (client) =>
        statement.rowsOn<CreatedRow>(client, schema, values),
      )
    : await inTransaction(db, async (trx) => {
        await trx.executeQuery(CompiledQuery.raw(lock));
        return statement.run<CreatedRow>(trx, schema, values);
      });
  if (!row) throw new Error('the task creation statement returned no row');
  return { body: row.body, foundAssignees: row.found_assignees, foundTags: row.found_tags };
}

interface CreatedRow {
  body: string | null;
  found_assignees: string[];
  found_tags: string[];
}
