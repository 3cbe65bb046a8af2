/**
 * SQL of `users` (tenant schema). Rules (who may do what, directory, sessions) live in users-service.ts.
 * Sorting comes from a whitelist map and directions from an enum; search text is a bound parameter with
 * LIKE wildcards escaped — nothing from the request is ever spliced into SQL.
 */
import { sql } from 'kysely';
import { isPermission, type Permission } from '../../auth/permissions.ts';
import type { AccountDb } from '../../auth/tables.ts';
import { isoSql, SchemaStatement } from '../../db/hosts.ts';

export const USER_SORTS = ['first_name', 'last_name', 'email', 'created_at'] as const;
export type UserSort = (typeof USER_SORTS)[number];
export type SortOrder = 'asc' | 'desc';

/**
 * Sort keys as SQL text for the prepared page statements (fixed strings, never input). Names sort
 * case-insensitively ("yann" between "Xavier" and "Zoe"), as people expect.
 */
const SORT_SQL = {
  first_name: 'lower(u.first_name)',
  last_name: 'lower(u.last_name)',
  email: 'u.email',
  created_at: 'u.created_at',
} as const satisfies Record<UserSort, string>;
const ORDER_SQL = { asc: 'ASC', desc: 'DESC' } as const satisfies Record<SortOrder, string>;

/**
 * The user page (GET /users/ is the benchmarked route, SPEC 10) as prepared statements, one per sort ×
 * order × with/without search: the answer's `items` as JSON made by PostgreSQL (the fields of `UserView`
 * in order, timestamps as `toISOString()` writes them), so the server neither parses the rows nor
 * serialises them, and the number of live users matching. Keep in sync with `live()`, `searched()` and
 * `userView` (test/accounts checks the page against the single-user answer).
 */
const pageStatements = new Map<string, SchemaStatement>();

function pageStatement(sort: UserSort, order: SortOrder, searched: boolean): SchemaStatement {
  const key = `users.page.${sort}.${order}${searched ? '.search' : ''}`;
  let statement = pageStatements.get(key);
  if (!statement) {
    const by = `${SORT_SQL[sort]} ${ORDER_SQL[order]}, u.id ${ORDER_SQL[order]}`;
    const where = `u.deleted_at IS NULL${
      searched
        ? ` AND (u.email ILIKE $1 OR u.first_name ILIKE $1 OR u.last_name ILIKE $1
          OR u.first_name || ' ' || u.last_name ILIKE $1)`
        : ''
    }`;
    const at = searched ? 2 : 1;
    statement = new SchemaStatement(
      // json_agg reads the sorted subquery directly, which keeps its order (as in task-reads.ts).
      (t) => `SELECT (SELECT count(*) FROM ${t('users')} u WHERE ${where}) AS total,
  coalesce(json_agg(b), '[]')::text AS items
FROM (
  SELECT u.uuid, u.email, u.first_name, u.last_name, u.phone, u.tz, u.lang, u.is_active, u.is_verified,
    (SELECT row_to_json(x) FROM (SELECT r.uuid, r.name, r.title) x) AS role,
    ${isoSql('u.created_at')} AS created_at, ${isoSql('u.updated_at')} AS updated_at, u.version
  FROM ${t('users')} u JOIN ${t('roles')} r ON r.id = u.role_id
  WHERE ${where}
  ORDER BY ${by} OFFSET $${at} LIMIT $${at + 1}
) b`,
    );
    pageStatements.set(key, statement);
  }
  return statement;
}

export interface UserRow {
  id: string;
  uuid: string;
  email: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  tz: string;
  lang: string;
  is_active: boolean;
  is_verified: boolean;
  created_at: Date;
  updated_at: Date;
  version: number;
  role_id: number;
  role_uuid: string;
  role_name: string;
  role_title: string;
}

export interface NewUser {
  /** Chosen by the service when the directory row must be written first; else generated. */
  uuid?: string;
  email: string;
  first_name: string;
  last_name: string;
  phone?: string | null;
  password_hash: string | null;
  role_id: number;
  is_verified: boolean;
  tz?: string;
  lang?: string;
}

export interface UserChanges {
  email?: string;
  first_name?: string;
  last_name?: string;
  phone?: string | null;
  role_id?: number;
  is_active?: boolean;
  tz?: string;
  lang?: string;
}

export interface RoleRef {
  id: number;
  uuid: string;
  name: string;
  title: string;
}

/** `%text%` for ILIKE with the user's %, _ and \ taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

export class UsersRepository {
  constructor(private readonly db: AccountDb) {}

  private live() {
    return this.db
      .selectFrom('users as u')
      .innerJoin('roles as r', 'r.id', 'u.role_id')
      .where('u.deleted_at', 'is', null);
  }

  private searched(search: string | undefined) {
    const query = this.live();
    if (!search) return query;
    const pattern = containsPattern(search);
    return query.where((eb) =>
      eb.or([
        eb('u.email', 'ilike', pattern),
        eb('u.first_name', 'ilike', pattern),
        eb('u.last_name', 'ilike', pattern),
        eb(sql<string>`u.first_name || ' ' || u.last_name`, 'ilike', pattern),
      ]),
    );
  }

  private static readonly COLUMNS = [
    'u.id',
    'u.uuid',
    'u.email',
    'u.first_name',
    'u.last_name',
    'u.phone',
    'u.tz',
    'u.lang',
    'u.is_active',
    'u.is_verified',
    'u.created_at',
    'u.updated_at',
    'u.version',
    'r.id as role_id',
    'r.uuid as role_uuid',
    'r.name as role_name',
    'r.title as role_title',
  ] as const;

  /** One page of live users as the JSON text of the answer's `items`, and how many match in all. */
  async page(
    schema: string,
    options: { search?: string; sort: UserSort; order: SortOrder; offset: number; limit: number },
  ): Promise<{ items: string; total: number }> {
    const [row] = await pageStatement(options.sort, options.order, Boolean(options.search)).run<{
      items: string;
      total: string;
    }>(this.db, schema, [
      ...(options.search ? [containsPattern(options.search)] : []),
      options.offset,
      options.limit,
    ]);
    return { items: row?.items ?? '[]', total: Number(row?.total ?? 0) };
  }

  async count(search?: string): Promise<number> {
    const row = await this.searched(search)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Every live user, ordered by e-mail (export). */
  all(): Promise<UserRow[]> {
    return this.live().select(UsersRepository.COLUMNS).orderBy('u.email').execute();
  }

  findByUuid(uuid: string): Promise<UserRow | undefined> {
    return this.live().select(UsersRepository.COLUMNS).where('u.uuid', '=', uuid).executeTakeFirst();
  }

  findById(id: string): Promise<UserRow | undefined> {
    return this.live().select(UsersRepository.COLUMNS).where('u.id', '=', id).executeTakeFirst();
  }

  /** Live users among these e-mails (import: duplicates inside the tenant). */
  async existingEmails(emails: string[]): Promise<Set<string>> {
    if (emails.length === 0) return new Set();
    const rows = await this.live().select('u.email').where('u.email', 'in', emails).execute();
    return new Set(rows.map((row) => row.email));
  }

  async insert(user: NewUser): Promise<{ id: string; uuid: string }> {
    return this.db
      .insertInto('users')
      .values({ ...user, email: user.email.toLowerCase() })
      .returning(['id', 'uuid'])
      .executeTakeFirstOrThrow();
  }

  async update(id: string, changes: UserChanges): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async softDelete(id: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ deleted_at: sql`now()`, is_active: false, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async leaveAllGroups(id: string): Promise<void> {
    await this.db.deleteFrom('group_members').where('user_id', '=', id).execute();
  }

  /**
   * Live holders of a role, locking their rows: two concurrent demotions of the last two owners then
   * run one after the other and the second sees one holder left.
   */
  async holdersForUpdate(roleId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('users')
      .select('id')
      .where('role_id', '=', roleId)
      .where('deleted_at', 'is', null)
      .where('is_active', '=', true)
      .orderBy('id')
      .forUpdate()
      .execute();
    return rows.map((row) => row.id);
  }

  roleByName(name: string): Promise<RoleRef | undefined> {
    return this.db
      .selectFrom('roles')
      .select(['id', 'uuid', 'name', 'title'])
      .where('name', '=', name)
      .executeTakeFirst();
  }

  roleByUuid(uuid: string): Promise<RoleRef | undefined> {
    return this.db
      .selectFrom('roles')
      .select(['id', 'uuid', 'name', 'title'])
      .where('uuid', '=', uuid)
      .executeTakeFirst();
  }

  /** All roles by upper-cased name (import resolves role names once). */
  async rolesByName(): Promise<Map<string, RoleRef>> {
    const rows = await this.db.selectFrom('roles').select(['id', 'uuid', 'name', 'title']).execute();
    return new Map(rows.map((row) => [row.name, row]));
  }

  async rolePermissions(roleId: number): Promise<Set<Permission>> {
    const rows = await this.db
      .selectFrom('role_permissions as rp')
      .innerJoin('permissions as p', 'p.id', 'rp.permission_id')
      .select('p.name')
      .where('rp.role_id', '=', roleId)
      .execute();
    return new Set(rows.map((row) => row.name).filter(isPermission));
  }
}
