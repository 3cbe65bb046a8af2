/**
 * Kysely table types of the account tables (tenant schema) and of `public.accounts`. Keep in sync with
 * the tenant revisions 7e4ee8e37b99, ecdcc93f2bcc, 644e2e7c091a and the public revision 2528612d7f84;
 * the snapshot test (test/migrations) catches schema changes, the repository tests catch type mismatches.
 *
 * `request.tenant.db` is an untyped Kysely (tables differ per schema in principle); `accountDb(db)` views
 * it through these types without a cast — Kysely<any> is assignable to any Kysely<T>.
 */
import type { ColumnType, Generated, Kysely } from 'kysely';
import type { AnyDb } from '../db/hosts.ts';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamp with a database default (now()). */
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint identity columns come back from pg as strings (int8 > 2^53 is possible). */
type BigId = ColumnType<string, never, never>;

export interface UsersTable {
  id: BigId;
  uuid: Generated<string>;
  email: string;
  first_name: Generated<string>;
  last_name: Generated<string>;
  phone: string | null;
  password_hash: string | null;
  role_id: number;
  is_active: Generated<boolean>;
  is_verified: Generated<boolean>;
  tz: Generated<string>;
  lang: Generated<string>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  deleted_at: NullableTimestamp;
  /** Row version, bumped by a trigger on every update (tenant revision 549b9b3f0a9b): the ETag. */
  version: ColumnType<number, never, never>;
}

export interface RolesTable {
  id: ColumnType<number, never, never>;
  uuid: Generated<string>;
  name: string;
  title: string;
  description: Generated<string>;
  is_system: Generated<boolean>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface PermissionsTable {
  id: ColumnType<number, never, never>;
  name: string;
  title: string;
}

export interface RolePermissionsTable {
  role_id: number;
  permission_id: number;
}

export interface SessionsTable {
  id: BigId;
  token_hash: Buffer;
  user_id: string;
  created_at: DefaultTimestamp;
  expires_at: Timestamp;
  last_seen_at: DefaultTimestamp;
  user_agent: string | null;
  ip: string | null;
  revoked_at: NullableTimestamp;
}

export type OneTimeTokenKind = 'verify_email' | 'password_reset' | 'invitation';

export interface UserTokensTable {
  id: BigId;
  token_hash: Buffer;
  kind: OneTimeTokenKind;
  user_id: string;
  created_at: DefaultTimestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface GroupsTable {
  id: BigId;
  uuid: Generated<string>;
  name: string;
  description: Generated<string>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  /** Row version, bumped by a trigger on every update (tenant revision 549b9b3f0a9b): the ETag. */
  version: ColumnType<number, never, never>;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
  added_at: DefaultTimestamp;
}

export interface SettingsTable {
  id: BigId;
  user_id: string | null;
  key: string;
  /** jsonb: pg parses it on the way out; write it with JSON.stringify. */
  value: ColumnType<unknown, string, string>;
  updated_at: DefaultTimestamp;
}

export interface AccountsTable {
  email: string;
  tenant_id: string;
  user_uuid: string;
  created_at: DefaultTimestamp;
}

export interface AccountTables {
  users: UsersTable;
  roles: RolesTable;
  permissions: PermissionsTable;
  role_permissions: RolePermissionsTable;
  sessions: SessionsTable;
  user_tokens: UserTokensTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  settings: SettingsTable;
  /** public.accounts — only reachable through `directoryDb` (withSchema('public')). */
  accounts: AccountsTable;
}

export type AccountDb = Kysely<AccountTables>;

/** The typed view of a tenant handle (or a transaction of it). */
export function accountDb(db: AnyDb): AccountDb {
  return db;
}
