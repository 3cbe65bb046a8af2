/** HTTP shapes of /users (SPEC 4). */
import { Type } from 'typebox';
import {
  Email,
  Lang,
  PageOf,
  PageQuery,
  Password,
  PersonName,
  Phone,
  RoleSummary,
  TimeZone,
  Uuid,
} from '../auth/schemas.ts';
import { USER_SORTS } from './users-repository.ts';

export const UserSchema = Type.Object({
  uuid: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
  phone: Type.Union([Type.String(), Type.Null()]),
  tz: Type.String(),
  lang: Type.String(),
  is_active: Type.Boolean(),
  is_verified: Type.Boolean(),
  role: RoleSummary,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  version: Type.Integer({ description: 'Row version; the ETag is "v<version>"' }),
});

export const UserPageSchema = PageOf(UserSchema);

export const UserListQuery = Type.Object(
  {
    ...PageQuery,
    sort: Type.Union(
      USER_SORTS.map((name) => Type.Literal(name)),
      { default: 'created_at' },
    ),
  },
  { additionalProperties: false },
);

export const UserCountQuery = Type.Object(
  { search: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);

export const CreateUserBody = Type.Object(
  {
    email: Email,
    first_name: PersonName,
    last_name: PersonName,
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
    role_uuid: Type.Optional(Uuid),
    password: Type.Optional(Password),
    tz: Type.Optional(TimeZone),
    lang: Type.Optional(Lang),
  },
  { additionalProperties: false },
);

export const PatchUserBody = Type.Object(
  {
    email: Type.Optional(Email),
    first_name: Type.Optional(PersonName),
    last_name: Type.Optional(PersonName),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
    role_uuid: Type.Optional(Uuid),
    is_active: Type.Optional(Type.Boolean()),
    tz: Type.Optional(TimeZone),
    lang: Type.Optional(Lang),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ImportResultSchema = Type.Object({
  created: Type.Integer(),
  users: Type.Array(Type.Object({ uuid: Type.String(), email: Type.String() })),
});
