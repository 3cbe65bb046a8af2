/**
 * Rules for users (SPEC 4): the user row and its directory row change together (DirectoryWork), e-mails
 * stay unique across tenants (409), nobody hands out or edits a role with permissions they do not hold
 * themselves (403: an ADMIN cannot make anybody, including themselves, OWNER), the last OWNER can be
 * neither deleted, deactivated nor demoted (409), and deletion/deactivation revoke every session.
 */
import { randomUUID } from 'node:crypto';
import { emailTaken, normalizeEmail } from '../../auth/account-service.ts';
import type { Accounts } from '../../auth/accounts-plugin.ts';
import { assertPassword } from '../../auth/passwords.ts';
import type { Permission } from '../../auth/permissions.ts';
import type { PrincipalUser } from '../../auth/principal.ts';
import { revokeAllSessions } from '../../auth/sessions.ts';
import type { AccountDb } from '../../auth/tables.ts';
import { SQLSTATE, sqlState } from '../../db/sqlstate.ts';
import { checkVersion } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import type { TenantContext } from '../../tenancy/tenant-plugin.ts';
import { pageJson } from '../auth/schemas.ts';
import { assertTimeZone } from '../auth/validation.ts';
import {
  type RoleRef,
  type SortOrder,
  type UserRow,
  type UserSort,
  UsersRepository,
} from './users-repository.ts';

export interface UserView {
  uuid: string;
  email: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  tz: string;
  lang: string;
  is_active: boolean;
  is_verified: boolean;
  role: { uuid: string; name: string; title: string };
  created_at: string;
  updated_at: string;
  version: number;
}

export function userView(row: UserRow): UserView {
  return {
    uuid: row.uuid,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    phone: row.phone,
    tz: row.tz,
    lang: row.lang,
    is_active: row.is_active,
    is_verified: row.is_verified,
    role: { uuid: row.role_uuid, name: row.role_name, title: row.role_title },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

/** Who acts, in which tenant (from the request). */
export interface Actor {
  tenant: TenantContext;
  /** Company name, for invitation e-mails. */
  company: string;
  user: PrincipalUser;
  permissions: ReadonlySet<Permission>;
}

export interface CreateUserInput {
  email: string;
  first_name: string;
  last_name: string;
  phone?: string | null;
  role_uuid?: string;
  password?: string;
  tz?: string;
  lang?: string;
}

export interface PatchUserInput {
  email?: string;
  first_name?: string;
  last_name?: string;
  phone?: string | null;
  role_uuid?: string;
  is_active?: boolean;
  tz?: string;
  lang?: string;
}

const OWNER = 'OWNER';
/** Role of a new user when none is given. */
export const DEFAULT_ROLE = 'MEMBER';

export class UsersService {
  constructor(private readonly accounts: Accounts) {}

  /** The page's answer as JSON text (`Page<UserView>`, made by PostgreSQL). */
  async list(
    db: AccountDb,
    schema: string,
    query: { page: number; size: number; sort: UserSort; order: SortOrder; search?: string },
  ): Promise<string> {
    const { items, total } = await new UsersRepository(db).page(schema, {
      search: query.search,
      sort: query.sort,
      order: query.order,
      offset: (query.page - 1) * query.size,
      limit: query.size,
    });
    return pageJson(items, total, query.page, query.size);
  }

  count(db: AccountDb, search?: string): Promise<number> {
    return new UsersRepository(db).count(search);
  }

  async exportRows(db: AccountDb): Promise<UserView[]> {
    return (await new UsersRepository(db).all()).map(userView);
  }

  async get(db: AccountDb, uuid: string): Promise<UserView> {
    const row = await new UsersRepository(db).findByUuid(uuid);
    if (!row) throw problems.notFound('user', uuid);
    return userView(row);
  }

  /** With a password: an active, verified user. Without: an invitation e-mail (enqueued with the user). */
  async create(actor: Actor, input: CreateUserInput): Promise<UserView> {
    const email = normalizeEmail(input.email);
    assertTimeZone(input.tz, '/body/tz');
    // Hash before the transaction opens: argon2 time is not spent holding a connection.
    const passwordHash = input.password === undefined ? null : await this.hashChecked(input.password, email);
    const uuid = randomUUID();
    const row = await this.accounts.directory.run(actor.tenant, async (trx, directory) => {
      const users = new UsersRepository(trx);
      const role = await this.assignableRole(users, actor, input.role_uuid ?? null, '/body/role_uuid');
      await insertDirectory(() => directory.insert({ email, tenant_id: actor.tenant.id, user_uuid: uuid }));
      const created = await users.insert({
        uuid,
        email,
        first_name: input.first_name.trim(),
        last_name: input.last_name.trim(),
        phone: input.phone ?? null,
        password_hash: passwordHash,
        role_id: role.id,
        // An administrator who sets the password vouches for the address; an invitee proves it.
        is_verified: passwordHash !== null,
        tz: input.tz,
        lang: input.lang,
      });
      if (passwordHash === null) {
        const invitation = await this.accounts.service.invitation(trx, {
          tenantId: actor.tenant.id,
          company: actor.company,
          userId: created.id,
          email,
          firstName: input.first_name.trim(),
          inviter: `${actor.user.first_name} ${actor.user.last_name}`.trim(),
        });
        // The e-mail's job joins the transaction (another host: sent only if it commits): no user, no e-mail.
        await this.accounts.mail.enqueueForTenant(
          actor.tenant.host,
          trx,
          invitation,
          `mail:invite:${actor.tenant.id}:${uuid}`,
        );
      }
      return users.findById(created.id);
    });
    if (!row) throw new Error('created user vanished');
    return userView(row);
  }

  async patch(actor: Actor, uuid: string, input: PatchUserInput, ifMatch?: string): Promise<UserView> {
    assertTimeZone(input.tz, '/body/tz');
    const row = await this.accounts.directory.run(actor.tenant, async (trx, directory) => {
      const users = new UsersRepository(trx);
      const target = await this.editableTarget(users, actor, uuid);
      await checkVersion(trx, 'users', uuid, ifMatch);
      const role =
        input.role_uuid === undefined
          ? undefined
          : await this.assignableRole(users, actor, input.role_uuid, '/body/role_uuid');
      const losesOwner =
        target.role_name === OWNER &&
        ((role !== undefined && role.name !== OWNER) || input.is_active === false);
      if (losesOwner) await this.assertAnotherOwner(users, target);
      const email = input.email === undefined ? undefined : normalizeEmail(input.email);
      if (email !== undefined && email !== target.email) {
        await insertDirectory(() => directory.changeEmail(target.email, email));
      }
      await users.update(target.id, {
        email,
        first_name: input.first_name?.trim(),
        last_name: input.last_name?.trim(),
        phone: input.phone,
        role_id: role?.id,
        is_active: input.is_active,
        tz: input.tz,
        lang: input.lang,
      });
      if (input.is_active === false) await revokeAllSessions(trx, target.id);
      return users.findById(target.id);
    });
    if (!row) throw problems.notFound('user', uuid);
    return userView(row);
  }

  /** Soft delete: the row stays for history; the address is freed; every session ends. */
  async delete(actor: Actor, uuid: string, ifMatch?: string): Promise<void> {
    await this.accounts.directory.run(actor.tenant, async (trx, directory) => {
      const users = new UsersRepository(trx);
      const target = await this.editableTarget(users, actor, uuid);
      await checkVersion(trx, 'users', uuid, ifMatch);
      if (target.role_name === OWNER) await this.assertAnotherOwner(users, target);
      await users.softDelete(target.id);
      await users.leaveAllGroups(target.id);
      await revokeAllSessions(trx, target.id);
      await directory.remove(target.email);
    });
  }

  private async hashChecked(password: string, email: string): Promise<string> {
    assertPassword(password, email);
    return this.accounts.hasher.hash(password);
  }

  /** A role the actor may hand out: it exists (else 422) and grants nothing the actor lacks (else 403). */
  async assignableRole(
    users: UsersRepository,
    actor: Actor,
    roleUuid: string | null,
    path: string,
  ): Promise<RoleRef> {
    const role = roleUuid === null ? await users.roleByName(DEFAULT_ROLE) : await users.roleByUuid(roleUuid);
    if (!role)
      throw problems.unprocessable('No such role', [{ path, message: 'is not a role of this tenant' }]);
    await this.assertWithinActor(users, actor, role.id, `You cannot assign the role ${role.name}`);
    return role;
  }

  private async assertWithinActor(users: UsersRepository, actor: Actor, roleId: number, detail: string) {
    const granted = await users.rolePermissions(roleId);
    for (const permission of granted) {
      if (!actor.permissions.has(permission)) throw problems.forbidden(`${detail}: it grants ${permission}`);
    }
  }

  /** The target user (404 if absent, also for other tenants' ids) whose role the actor does not exceed. */
  private async editableTarget(users: UsersRepository, actor: Actor, uuid: string): Promise<UserRow> {
    const target = await users.findByUuid(uuid);
    if (!target) throw problems.notFound('user', uuid);
    await this.assertWithinActor(
      users,
      actor,
      target.role_id,
      `You cannot change a user with the role ${target.role_name}`,
    );
    return target;
  }

  private async assertAnotherOwner(users: UsersRepository, target: UserRow): Promise<void> {
    const holders = await users.holdersForUpdate(target.role_id);
    if (holders.filter((id) => id !== target.id).length === 0)
      throw problems.conflict('The last OWNER cannot be deleted, deactivated or given another role');
  }
}

/** A directory write; a taken address (unique violation) → 409. */
export async function insertDirectory(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION) throw emailTaken();
    throw error;
  }
}
