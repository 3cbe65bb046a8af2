/** HTTP shapes of /tokens (issue 19): scoped personal API tokens. */
import { type Static, Type } from 'typebox';
import { PageQuery, PermissionName } from '../auth/schemas.ts';

const DateTime = Type.String({ format: 'date-time' });

export const TokenBody = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  owner: Type.Object({ uuid: Type.String(), email: Type.String() }),
  created_at: DateTime,
  expires_at: DateTime,
  last_used_at: Type.Union([DateTime, Type.Null()]),
  revoked_at: Type.Union([DateTime, Type.Null()]),
});
export type TokenBody = Static<typeof TokenBody>;

export const CreatedTokenBody = Type.Intersect([
  TokenBody,
  Type.Object({
    token: Type.String({
      description: 'The token itself: shown once, never again (only its SHA-256 is stored)',
      examples: ['tnt_3q2-7wEXAMPLEq8Zk1bP0o9sV4yT6rU2nM5cL7dH1fG'],
    }),
  }),
]);

export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', examples: ['CI deploy notes'] }),
    scopes: Type.Array(PermissionName, {
      minItems: 1,
      uniqueItems: true,
      description: 'Permissions the token may use: a subset of your own (more → 403)',
      examples: [['TASK_VIEW', 'TASK_ADD']],
    }),
    expires_at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'In the future, at most 366 days ahead (default: 90 days from now)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const TokenListQuery = Type.Object(
  {
    page: PageQuery.page,
    size: PageQuery.size,
    revoked: Type.Boolean({ default: false, description: 'Include revoked and expired tokens' }),
  },
  { additionalProperties: false },
);
