/**
 * Scoped personal API tokens (issue 19): `tnt_` + 256 random bits (base64url), sent as
 * `Authorization: Bearer tnt_…` with the `tenant` header, like a session token. The prefix tells the
 * two apart (and lets secret scanners find leaked ones); only the SHA-256 of the token is stored
 * (tenant table `api_tokens`, revision 549b9b3f0a9b), as for sessions (tokens.ts).
 *
 * A token carries `scopes`, a subset of its creator's permissions when it was made. A request with it
 * gets the intersection of those scopes and the user's CURRENT permissions (one query, below): demoting
 * the user narrows every token at once; deleting or deactivating the user, revoking the token or its
 * expiry → 401. Tokens call only routes that need a permission (auth-plugin.ts): session and token
 * management (`/auth/logout`, `/tokens`, …) stay with sessions, so a leaked token cannot mint others.
 */
import { randomBytes } from 'node:crypto';
import type { AnyDb } from '../db/hosts.ts';
import { SchemaStatement, schemaBinding } from '../db/hosts.ts';
import { isPermission } from './permissions.ts';
import type { Principal } from './principal.ts';
import { hashToken, type IssuedToken } from './tokens.ts';

export const API_TOKEN_PREFIX = 'tnt_';
const API_TOKEN = /^tnt_[A-Za-z0-9_-]{43}$/;

export function isApiToken(token: string): boolean {
  return API_TOKEN.test(token);
}

export function issueApiToken(): IssuedToken {
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

/** `last_used_at` is refreshed at most this often (as sessions' last_seen_at). */
const TOUCH_AFTER_MS = 5 * 60_000;

/**
 * The principal of an API token: its user and role, and as permissions the role's permissions that are
 * also in the token's scopes. Keep the columns in line with session-repository.ts's PRINCIPAL_BY_TOKEN.
 */
const PRINCIPAL_BY_API_TOKEN = new SchemaStatement(
  (t) => `SELECT k.id AS token_id, k.uuid AS token_uuid, k.name AS token_name, k.expires_at, k.last_used_at,
  u.id AS user_id, u.uuid, u.email, u.first_name, u.last_name, u.tz, u.lang,
  r.id AS role_id, r.uuid AS role_uuid, r.name AS role_name, r.title AS role_title,
  (SELECT array_agg(p.name) FROM ${t('role_permissions')} rp
     JOIN ${t('permissions')} p ON p.id = rp.permission_id
    WHERE rp.role_id = r.id AND p.name = ANY (k.scopes)) AS permissions
FROM ${t('api_tokens')} k
JOIN ${t('users')} u ON u.id = k.user_id
JOIN ${t('roles')} r ON r.id = u.role_id
WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND k.expires_at > now()
  AND u.deleted_at IS NULL AND u.is_active = true`,
);

interface ApiTokenRow {
  token_id: string;
  token_uuid: string;
  token_name: string;
  expires_at: Date;
  last_used_at: Date | null;
  user_id: string;
  uuid: string;
  email: string;
  first_name: string;
  last_name: string;
  tz: string;
  lang: string;
  role_id: number;
  role_uuid: string;
  role_name: string;
  role_title: string;
  permissions: string[] | null;
}

/** The principal of an API token in this tenant's schema, or undefined (→ 401). */
export async function authenticateApiToken(db: AnyDb, token: string): Promise<Principal | undefined> {
  const binding = schemaBinding(db);
  if (!binding) throw new Error('API tokens are authenticated on a schema-bound handle (request.tenant.db)');
  const [row] = await PRINCIPAL_BY_API_TOKEN.rows<ApiTokenRow>(binding, [hashToken(token)]);
  if (!row) return undefined;
  if (row.last_used_at === null || Date.now() - row.last_used_at.getTime() >= TOUCH_AFTER_MS) {
    await db
      .updateTable('api_tokens')
      .set({ last_used_at: new Date() })
      .where('id', '=', row.token_id)
      .execute();
  }
  return {
    // Not a session: `session` routes (logout) refuse API tokens (auth-plugin.ts), so this id is never
    // used against the sessions table; it names the token for the principal's readers.
    session: { id: row.token_id, expires_at: row.expires_at },
    apiToken: { id: row.token_id, uuid: row.token_uuid, name: row.token_name },
    user: {
      id: row.user_id,
      uuid: row.uuid,
      email: row.email,
      first_name: row.first_name,
      last_name: row.last_name,
      tz: row.tz,
      lang: row.lang,
    },
    role: { id: row.role_id, uuid: row.role_uuid, name: row.role_name, title: row.role_title },
    permissions: new Set((row.permissions ?? []).filter(isPermission)),
  };
}
