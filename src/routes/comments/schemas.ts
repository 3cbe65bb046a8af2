/**
 * HTTP shapes of comments. Bound matches the CHECK constraint of tenant revision 7f315a3921b2.
 */
import { type Static, Type } from 'typebox';
import { DateTime } from '../tasks/schemas.ts';

export const CommentText = Type.String({ minLength: 1, maxLength: 10_000, pattern: '\\S' });

export const CommentBody = Type.Object({
  uuid: Type.String(),
  task_uuid: Type.String(),
  author: Type.Object({ uuid: Type.String(), first_name: Type.String(), last_name: Type.String() }),
  body: Type.String(),
  created_at: DateTime,
  updated_at: DateTime,
  version: Type.Integer({ description: 'Row version; the ETag is "v<version>"' }),
});
export type CommentBody = Static<typeof CommentBody>;

export const WriteCommentBody = Type.Object({ body: CommentText }, { additionalProperties: false });
