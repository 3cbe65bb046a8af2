/**
 * HTTP shapes of /tags. Bounds match the CHECK constraints of tenant revision 7f315a3921b2.
 */
import { type Static, Type } from 'typebox';
import { PageQuery } from '../auth/schemas.ts';
import { Color } from '../lists/schemas.ts';
import { DateTime, Nullable } from '../tasks/schemas.ts';

const Name = Type.String({ minLength: 1, maxLength: 50, pattern: '\\S' });

export const TagBody = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  color: Nullable(Type.String()),
  task_count: Type.Integer({ description: 'Live tasks carrying the tag' }),
  created_at: DateTime,
  updated_at: DateTime,
  version: Type.Integer({ description: 'Row version; the ETag is "v<version>"' }),
});
export type TagBody = Static<typeof TagBody>;

export const CreateTagBody = Type.Object(
  { name: Name, color: Type.Optional(Nullable(Color)) },
  { additionalProperties: false },
);
export type CreateTagBody = Static<typeof CreateTagBody>;

export const PatchTagBody = Type.Object(
  { name: Type.Optional(Name), color: Type.Optional(Nullable(Color)) },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchTagBody = Static<typeof PatchTagBody>;

export const TagQuery = Type.Object(
  { page: PageQuery.page, size: PageQuery.size, order: PageQuery.order, search: PageQuery.search },
  { additionalProperties: false },
);
export type TagQuery = Static<typeof TagQuery>;

export const DeleteTagQuery = Type.Object(
  { force: Type.Boolean({ default: false, description: 'Unlink the tag from its tasks first' }) },
  { additionalProperties: false },
);
