/**
 * Kysely table types of the TODO tables (tenant revision 7f315a3921b2). Keep in sync with that file; the
 * schema snapshot test catches schema changes, the HTTP tests catch type mismatches.
 * `todoDb(db)` views the untyped tenant handle (or a transaction of it) through these types.
 */
import type { ColumnType, Generated, Kysely } from 'kysely';
import type { UsersTable } from '../../auth/tables.ts';
import type { AnyDb } from '../../db/hosts.ts';

type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint identity columns come back from pg as strings. */
type BigId = ColumnType<string, never, never>;
/** jsonb written as JSON text (JSON.stringify), read back parsed by pg. */
type Json = ColumnType<unknown, string | null | undefined, string | null>;

export const TASK_STATUSES = ['todo', 'in_progress', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export const TASK_ACTIONS = [
  'created',
  'updated',
  'status_changed',
  'assigned',
  'unassigned',
  'commented',
  'deleted',
  'restored',
] as const;
export type TaskAction = (typeof TASK_ACTIONS)[number];

export interface ListsTable {
  id: BigId;
  uuid: Generated<string>;
  name: string;
  description: Generated<string>;
  color: string | null;
  position: Generated<number>;
  archived_at: NullableTimestamp;
  created_by: string | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  /** Row version, bumped by a trigger on every update (tenant revision 549b9b3f0a9b): the ETag. */
  version: ColumnType<number, never, never>;
}

export interface TasksTable {
  id: BigId;
  uuid: Generated<string>;
  list_id: string | null;
  title: string;
  description: Generated<string>;
  status: ColumnType<TaskStatus, TaskStatus | undefined, TaskStatus>;
  priority: ColumnType<TaskPriority, TaskPriority | undefined, TaskPriority>;
  priority_rank: ColumnType<number, never, never>;
  due_at: NullableTimestamp;
  completed_at: NullableTimestamp;
  position: Generated<number>;
  author_id: string;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  deleted_at: NullableTimestamp;
  /** Row version, bumped by a trigger on every update (tenant revision 549b9b3f0a9b): the ETag. */
  version: ColumnType<number, never, never>;
}

export interface TaskAssigneesTable {
  task_id: string;
  user_id: string;
  assigned_at: DefaultTimestamp;
}

export interface TagsTable {
  id: BigId;
  uuid: Generated<string>;
  name: string;
  color: string | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  /** Row version, bumped by a trigger on every update (tenant revision 549b9b3f0a9b): the ETag. */
  version: ColumnType<number, never, never>;
}

export interface TaskTagsTable {
  task_id: string;
  tag_id: string;
}

export interface TaskEventsTable {
  id: BigId;
  task_id: string;
  actor_id: string;
  action: TaskAction;
  before: Json;
  after: Json;
  created_at: DefaultTimestamp;
}

/**
 * The change feed (tenant revision 53ef3f6ee276). Services write the task timeline's events here
 * (`entity: 'task'`); ids, `tx`, `data` and the generic events of other changes come from its triggers.
 */
export interface ChangeEventsTable {
  id: BigId;
  tx: ColumnType<string, never, never>;
  entity: string;
  entity_id: string;
  entity_key: ColumnType<string | null, string | null | undefined, never>;
  action: string;
  recorded_by: ColumnType<'service' | 'trigger', 'service' | undefined, never>;
  actor_id: string | null;
  before: Json;
  after: Json;
  data: Json;
  created_at: DefaultTimestamp;
}

/** The feed's one-row head: the last id given out and the last id pruned (retention). */
export interface ChangeHeadTable {
  only_row: ColumnType<boolean, never, never>;
  last_id: ColumnType<string, never, string>;
  pruned_through: ColumnType<string, never, string>;
}

export interface CommentsTable {
  id: BigId;
  uuid: Generated<string>;
  task_id: string;
  author_id: string;
  body: string;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  deleted_at: NullableTimestamp;
  /** Row version, bumped by a trigger on every update (tenant revision 549b9b3f0a9b): the ETag. */
  version: ColumnType<number, never, never>;
}

export interface TodoTables {
  users: UsersTable;
  lists: ListsTable;
  tasks: TasksTable;
  task_assignees: TaskAssigneesTable;
  tags: TagsTable;
  task_tags: TaskTagsTable;
  /** A view of change_events since revision 53ef3f6ee276: read it, write change_events. */
  task_events: TaskEventsTable;
  change_events: ChangeEventsTable;
  change_head: ChangeHeadTable;
  comments: CommentsTable;
}

export type TodoDb = Kysely<TodoTables>;

export function todoDb(db: AnyDb): TodoDb {
  return db;
}

/** The task columns every read of a task carries (the page/detail read and the locked read of a PATCH). */
export interface TaskColumns {
  id: string;
  uuid: string;
  list_id: string | null;
  list_uuid: string | null;
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  due_at: Date | null;
  completed_at: Date | null;
  position: number;
  deleted_at: Date | null;
}
