/**
 * HTTP shapes of /lists. Bounds match the CHECK constraints of tenant revision 7f315a3921b2.
 */
import { type Static, Type } from 'typebox';
import { PageQuery } from '../auth/schemas.ts';
import { DateTime, Nullable, Position } from '../tasks/schemas.ts';
import { LIST_SORTS } from './lists-repository.ts';

export const Color = Type.String({ pattern: '^#[0-9a-f]{6}$', description: 'Lower-case hex, e.g. #1e90ff' });
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const Description = Type.String({ maxLength: 2000 });

export const ListBody = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  description: Type.String(),
  color: Nullable(Type.String()),
  position: Type.Integer(),
  archived_at: Nullable(DateTime),
  task_count: Type.Integer({ description: 'Live tasks in the list' }),
  created_at: DateTime,
  updated_at: DateTime,
  version: Type.Integer({ description: 'Row version; the ETag is "v<version>"' }),
});
export type ListBody = Static<typeof ListBody>;

export const CreateListBody = Type.Object(
  { name: Name, description: Type.Optional(Description), color: Type.Optional(Nullable(Color)) },
  { additionalProperties: false },
);
export type CreateListBody = Static<typeof CreateListBody>;

export const PatchListBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    color: Type.Optional(Nullable(Color)),
    position: Type.Optional(Position),
    archived: Type.Optional(Type.Boolean({ description: 'Archive (true) or bring back (false)' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchListBody = Static<typeof PatchListBody>;

export const ListQuery = Type.Object(
  {
    page: PageQuery.page,
    size: PageQuery.size,
    sort: Type.Enum(LIST_SORTS, { default: 'position' }),
    order: PageQuery.order,
    archived: Type.Boolean({ default: false, description: 'Include archived lists' }),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

/** DELETE answers what happened: an empty list is deleted, a list with tasks is archived. */
export const DeleteListAnswer = Type.Object({
  outcome: Type.Enum(['deleted', 'archived'] as const),
  list: Nullable(ListBody),
});
