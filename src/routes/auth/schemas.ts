/**
 * HTTP shapes shared by the account areas (auth, users, roles, groups, settings). Bodies refuse unknown
 * properties; every string is bounded; e-mails are validated by format here and lower-cased by the
 * services. Keep the bounds in sync with the CHECK constraints of the tenant revisions.
 */
import { type Static, type TSchema, Type } from 'typebox';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../auth/passwords.ts';
import { PERMISSIONS } from '../../auth/permissions.ts';

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
export const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
export const PersonName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
/** IANA time zone name; checked against the runtime's zone list by the services (422 otherwise). */
export const TimeZone = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_+\\-/]*$' });
/** BCP 47 language tag, simplified: `en`, `pt-BR`. */
export const Lang = Type.String({ pattern: '^[a-z]{2,3}(-[A-Z]{2})?$', maxLength: 6 });
export const Phone = Type.String({ maxLength: 32, pattern: '^[0-9+()\\-. ]*$' });
export const Uuid = Type.String({ format: 'uuid' });
export const UuidParams = Type.Object({ uuid: Uuid });
/** A one-time token from an e-mail link: `<tenant_id>.<43 base64url characters>`. */
export const OneTimeToken = Type.String({ minLength: 45, maxLength: 120 });
export const PermissionName = Type.Union(PERMISSIONS.map((name) => Type.Literal(name)));

export const PublicUser = Type.Object({
  uuid: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
  tz: Type.String(),
  lang: Type.String(),
});

export const RoleSummary = Type.Object({ uuid: Type.String(), name: Type.String(), title: Type.String() });

export const SessionAnswerSchema = Type.Object({
  auth_token: Type.String({ description: 'Bearer token; shown once' }),
  expires_at: Type.String({ format: 'date-time' }),
  tenant_id: Type.String(),
  user: PublicUser,
  role: RoleSummary,
  permissions: Type.Array(Type.String()),
});

export const PageQuery = {
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
  search: Type.Optional(Type.String({ maxLength: 100 })),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    page: Type.Integer(),
    size: Type.Integer(),
    pages: Type.Integer(),
  });
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  size: number;
  pages: number;
}

export function pageOf<T>(items: T[], total: number, page: number, size: number): Page<T> {
  return { items, total, page, size, pages: Math.ceil(total / size) };
}

/** `pageOf` as JSON text, around items that are JSON text already (an array made by PostgreSQL). */
export function pageJson(items: string, total: number, page: number, size: number): string {
  return `{"items":${items},"total":${total},"page":${page},"size":${size},"pages":${Math.ceil(total / size)}}`;
}

export type SessionAnswerBody = Static<typeof SessionAnswerSchema>;
