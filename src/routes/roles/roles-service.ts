/**
 * Rules for roles: the seeded system roles (OWNER, ADMIN, MEMBER) can be read but neither changed nor
 * deleted (409); a role still held by users cannot be deleted (409); nobody grants a permission they do
 * not hold themselves (403). Names are unique (409 from the unique index).
 */
import type { Permission } from '../../auth/permissions.ts';
import type { AccountDb } from '../../auth/tables.ts';
import { problems } from '../../http/problem.ts';
import { type RoleRow, RolesRepository } from './roles-repository.ts';

export interface RoleView {
  uuid: string;
  name: string;
  title: string;
  description: string;
  is_system: boolean;
  permissions: string[];
  user_count: number;
  created_at: string;
  updated_at: string;
}

function roleView(row: RoleRow): RoleView {
  return {
    uuid: row.uuid,
    name: row.name,
    title: row.title,
    description: row.description,
    is_system: row.is_system,
    permissions: [...(row.permissions ?? [])].sort(),
    user_count: Number(row.user_count),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export interface RoleInput {
  name: string;
  title: string;
  description?: string;
  permissions: Permission[];
}

function assertGrantable(permissions: Permission[], actor: ReadonlySet<Permission>): void {
  const missing = permissions.filter((permission) => !actor.has(permission));
  if (missing.length > 0)
    throw problems.forbidden(`You cannot grant permissions you lack: ${missing.join(', ')}`);
}

export class RolesService {
  async list(db: AccountDb): Promise<RoleView[]> {
    return (await new RolesRepository(db).list()).map(roleView);
  }

  async get(db: AccountDb, uuid: string): Promise<RoleView> {
    const row = await new RolesRepository(db).find(uuid);
    if (!row) throw problems.notFound('role', uuid);
    return roleView(row);
  }

  permissions(db: AccountDb) {
    return new RolesRepository(db).catalogue();
  }

  async create(db: AccountDb, actor: ReadonlySet<Permission>, input: RoleInput): Promise<RoleView> {
    assertGrantable(input.permissions, actor);
    return db.transaction().execute(async (trx) => {
      const roles = new RolesRepository(trx);
      const created = await roles.insert({
        name: input.name,
        title: input.title.trim(),
        description: input.description?.trim() ?? '',
      });
      await roles.setPermissions(created.id, input.permissions);
      return this.get(trx, created.uuid);
    });
  }

  async update(
    db: AccountDb,
    actor: ReadonlySet<Permission>,
    uuid: string,
    input: Partial<RoleInput>,
  ): Promise<RoleView> {
    if (input.permissions) assertGrantable(input.permissions, actor);
    return db.transaction().execute(async (trx) => {
      const roles = new RolesRepository(trx);
      const role = await this.changeable(roles, uuid);
      await roles.update(role.id, {
        name: input.name,
        title: input.title?.trim(),
        description: input.description?.trim(),
      });
      if (input.permissions) await roles.setPermissions(role.id, input.permissions);
      return this.get(trx, uuid);
    });
  }

  async delete(db: AccountDb, uuid: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const roles = new RolesRepository(trx);
      const role = await this.changeable(roles, uuid);
      if (Number(role.user_count) > 0)
        throw problems.conflict(
          `The role is held by ${role.user_count} user(s); give them another role first`,
        );
      await roles.reassignDeletedHolders(role.id, 'MEMBER');
      await roles.delete(role.id);
    });
  }

  private async changeable(roles: RolesRepository, uuid: string): Promise<RoleRow> {
    const role = await roles.find(uuid);
    if (!role) throw problems.notFound('role', uuid);
    if (role.is_system)
      throw problems.conflict(`${role.name} is a system role; it cannot be changed or deleted`);
    return role;
  }
}
