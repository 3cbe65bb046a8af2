/**
 * HTTP shapes of /tasks. Bounds match the CHECK constraints of tenant revision 7f315a3921b2 (title ≤ 500,
 * description ≤ 20,000). Response schemas are complete so fast-json-stringify serialises them (the
 * task page is benchmarked); nullable fields use a type array rather than anyOf for the same reason.
 */
import { type Static, type TSchema, Type } from 'typebox';
import { PageQuery, Uuid } from '../auth/schemas.ts';
import { TASK_ACTIONS, TASK_PRIORITIES, TASK_STATUSES } from './tables.ts';
import { TASK_SORTS } from './task-filters.ts';

/** `{type: [T, 'null']}` — serialised by fast-json-stringify without trying branches. */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, ...rest } = schema as unknown as { type: string } & Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] });
}

export const TaskStatus = Type.Enum(TASK_STATUSES);
export const TaskPriority = Type.Enum(TASK_PRIORITIES);
export const DateTime = Type.String({ format: 'date-time' });
export const Title = Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' });
export const Description = Type.String({ maxLength: 20_000 });
export const Position = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });
const UuidSet = Type.Array(Uuid, { uniqueItems: true, maxItems: 50 });

export const TagSummary = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  color: Nullable(Type.String()),
});
export const UserSummary = Type.Object({
  uuid: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
});

export const TaskBody = Type.Object({
  uuid: Type.String(),
  list_uuid: Nullable(Type.String()),
  title: Type.String(),
  description: Type.String(),
  status: Type.String(),
  priority: Type.String(),
  due_at: Nullable(DateTime),
  completed_at: Nullable(DateTime),
  position: Type.Integer(),
  author_uuid: Type.String(),
  assignees: Type.Array(UserSummary),
  tags: Type.Array(TagSummary),
  created_at: DateTime,
  updated_at: DateTime,
  deleted_at: Nullable(DateTime),
  /** Row version; the answer's ETag is `"v<version>"` (send it back in If-Match). */
  version: Type.Integer(),
});
export type TaskBody = Static<typeof TaskBody>;

export const CreateTaskBody = Type.Object(
  {
    title: Title,
    description: Type.Optional(Description),
    list_uuid: Type.Optional(Nullable(Uuid)),
    status: Type.Optional(TaskStatus),
    priority: Type.Optional(TaskPriority),
    due_at: Type.Optional(Nullable(DateTime)),
    assignees: Type.Optional(UuidSet),
    tags: Type.Optional(UuidSet),
  },
  { additionalProperties: false },
);
export type CreateTaskBody = Static<typeof CreateTaskBody>;

export const PatchTaskBody = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    list_uuid: Type.Optional(Nullable(Uuid)),
    status: Type.Optional(TaskStatus),
    priority: Type.Optional(TaskPriority),
    due_at: Type.Optional(Nullable(DateTime)),
    position: Type.Optional(Position),
    assignees: Type.Optional(UuidSet),
    tags: Type.Optional(UuidSet),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchTaskBody = Static<typeof PatchTaskBody>;

/** Filters shared by the listing, the export and (partly) the stats. */
export const TaskFilterQuery = {
  list: Type.Optional(Type.Union([Uuid, Type.Literal('inbox')], { description: 'A list uuid, or `inbox`' })),
  status: Type.Optional(Type.Array(TaskStatus, { maxItems: 3 })),
  priority: Type.Optional(Type.Array(TaskPriority, { maxItems: 4 })),
  assignee: Type.Optional(Type.Union([Uuid, Type.Literal('me')], { description: 'A user uuid, or `me`' })),
  tag: Type.Optional(Type.Array(Uuid, { maxItems: 20, description: 'Tasks with any of these tags' })),
  due_before: Type.Optional(Type.String({ format: 'date-time', description: 'due_at < due_before' })),
  due_after: Type.Optional(Type.String({ format: 'date-time', description: 'due_at >= due_after' })),
  overdue: Type.Optional(Type.Boolean()),
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  deleted: Type.Optional(Type.Boolean({ description: 'true: the trash (soft-deleted tasks) instead' })),
};

export const TaskListQuery = Type.Object(
  {
    ...TaskFilterQuery,
    page: PageQuery.page,
    size: PageQuery.size,
    sort: Type.Enum(TASK_SORTS, { default: 'created_at' }),
    order: PageQuery.order,
  },
  { additionalProperties: false },
);
export type TaskListQuery = Static<typeof TaskListQuery>;

export const TaskExportQuery = Type.Object(TaskFilterQuery, { additionalProperties: false });
export type TaskExportQuery = Static<typeof TaskExportQuery>;

export const EventBody = Type.Object({
  action: Type.Enum(TASK_ACTIONS),
  actor: Type.Object({ uuid: Type.String(), first_name: Type.String(), last_name: Type.String() }),
  before: Type.Unknown(),
  after: Type.Unknown(),
  created_at: DateTime,
});
export type EventBody = Static<typeof EventBody>;

export const StatsQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date', description: 'First day (default: 29 days before to)' }),
    ),
    to: Type.Optional(Type.String({ format: 'date', description: 'Last day, inclusive (default: today)' })),
    list: TaskFilterQuery.list,
  },
  { additionalProperties: false },
);
export type StatsQuery = Static<typeof StatsQuery>;

const Counts = <K extends string>(keys: readonly K[]) =>
  Type.Object(
    Object.fromEntries(keys.map((key) => [key, Type.Integer()])) as Record<
      K,
      ReturnType<typeof Type.Integer>
    >,
  );

export const StatsBody = Type.Object({
  by_status: Counts(TASK_STATUSES),
  by_priority: Counts(TASK_PRIORITIES),
  overdue: Type.Integer(),
  total: Type.Integer(),
  completed_per_day: Type.Array(Type.Object({ date: Type.String(), count: Type.Integer() })),
  from: Type.String(),
  to: Type.String(),
  tz: Type.String(),
});
export type StatsBody = Static<typeof StatsBody>;

export { Uuid };
