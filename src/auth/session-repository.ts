/**
 * SQL of sessions (SPEC 3.2): one row per device; only the token's SHA-256 is stored. `findByToken` is
 * the hot path of every authenticated request: session → user → role → permissions in one statement.
 */
import { type ExpressionBuilder, sql } from 'kysely';
import { SchemaStatement, schemaBinding } from '../db/hosts.ts';
import { isPermission, type Permission } from './permissions.ts';
import type { Principal, PrincipalRole, PrincipalUser } from './principal.ts';
import type { AccountDb, AccountTables } from './tables.ts';

/** The role's permission names as one array column (scalar subquery; NULL when the role has none). */
function permissionNames(eb: ExpressionBuilder<AccountTables & { r: AccountTables['roles'] }, 'r'>) {
  return eb
    .selectFrom('role_permissions as rp')
    .innerJoin('permissions as p', 'p.id', 'rp.permission_id')
    .whereRef('rp.role_id', '=', 'r.id')
    .select((inner) => inner.fn.agg<string[]>('array_agg', ['p.name']).as('names'))
    .as('permissions');
}

interface AccessRow {
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

const USER_COLUMNS = [
  'u.id as user_id',
  'u.uuid',
  'u.email',
  'u.first_name',
  'u.last_name',
  'u.tz',
  'u.lang',
  'r.id as role_id',
  'r.uuid as role_uuid',
  'r.name as role_name',
  'r.title as role_title',
] as const;

/**
 * `findByToken` as one prepared statement (the hot path of every authenticated request; see
 * SchemaStatement). Keep in sync with the Kysely version below, which serves Kysely instances that are
 * not bound by `DatabaseHosts.schemaDb` (e.g. transactions); every HTTP test of test/accounts goes
 * through this one.
 */
const PRINCIPAL_BY_TOKEN = new SchemaStatement(
  (t) => `SELECT s.id AS session_id, s.expires_at, s.last_seen_at,
  u.id AS user_id, u.uuid, u.email, u.first_name, u.last_name, u.tz, u.lang,
  r.id AS role_id, r.uuid AS role_uuid, r.name AS role_name, r.title AS role_title,
  (SELECT array_agg(p.name) FROM ${t('role_permissions')} rp
     JOIN ${t('permissions')} p ON p.id = rp.permission_id WHERE rp.role_id = r.id) AS permissions
FROM ${t('sessions')} s
JOIN ${t('users')} u ON u.id = s.user_id
JOIN ${t('roles')} r ON r.id = u.role_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
  AND u.deleted_at IS NULL AND u.is_active = true`,
);

interface PrincipalRow extends AccessRow {
  session_id: string;
  expires_at: Date;
  last_seen_at: Date;
}

export interface UserAccess {
  user: PrincipalUser;
  role: PrincipalRole;
  permissions: ReadonlySet<Permission>;
}

function toAccess(row: AccessRow): UserAccess {
  return {
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

export class SessionRepository {
  constructor(private readonly db: AccountDb) {}

  async insert(session: {
    hash: Buffer;
    userId: string;
    expiresAt: Date;
    userAgent: string | null;
    ip: string | null;
  }): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        token_hash: session.hash,
        user_id: session.userId,
        expires_at: session.expiresAt,
        user_agent: session.userAgent,
        ip: session.ip,
      })
      .execute();
  }

  /** A live user's access (role, permissions) — for the session answer of login and friends. */
  async access(userId: string): Promise<UserAccess | undefined> {
    const row = await this.db
      .selectFrom('users as u')
      .innerJoin('roles as r', 'r.id', 'u.role_id')
      .select(USER_COLUMNS)
      .select(permissionNames)
      .where('u.id', '=', userId)
      .where('u.deleted_at', 'is', null)
      .executeTakeFirst();
    return row && toAccess(row);
  }

  /** The principal of a live session (not revoked, not expired, user active and not deleted). */
  async findByToken(hash: Buffer): Promise<(Principal & { lastSeenAt: Date }) | undefined> {
    const binding = schemaBinding(this.db);
    const row: PrincipalRow | undefined = binding
      ? (await PRINCIPAL_BY_TOKEN.rows<PrincipalRow>(binding, [hash]))[0]
      : await this.findByTokenQuery(hash);
    if (!row) return undefined;
    return {
      ...toAccess(row),
      session: { id: row.session_id, expires_at: row.expires_at },
      lastSeenAt: row.last_seen_at,
    };
  }

  private findByTokenQuery(hash: Buffer): Promise<PrincipalRow | undefined> {
    return this.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .innerJoin('roles as r', 'r.id', 'u.role_id')
      .select(['s.id as session_id', 's.expires_at', 's.last_seen_at'])
      .select(USER_COLUMNS)
      .select(permissionNames)
      .where('s.token_hash', '=', hash)
      .where('s.revoked_at', 'is', null)
      .where('s.expires_at', '>', sql<Date>`now()`)
      .where('u.deleted_at', 'is', null)
      .where('u.is_active', '=', true)
      .executeTakeFirst();
  }

  async revoke(sessionId: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Revokes every live session of the user; returns how many. */
  async revokeAll(userId: string): Promise<number> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revoked_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
