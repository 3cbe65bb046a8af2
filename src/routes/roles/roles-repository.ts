/** SQL of roles and their permissions (tenant schema). */
import { sql } from 'kysely';
import type { Permission } from '../../auth/permissions.ts';
import type { AccountDb } from '../../auth/tables.ts';

export interface RoleRow {
  id: number;
  uuid: string;
  name: string;
  title: string;
  description: string;
  is_system: boolean;
  created_at: Date;
  updated_at: Date;
  permissions: string[] | null;
  user_count: string;
}

export class RolesRepository {
  constructor(private readonly db: AccountDb) {}

  private withDetails() {
    return this.db
      .selectFrom('roles as r')
      .select([
        'r.id',
        'r.uuid',
        'r.name',
        'r.title',
        'r.description',
        'r.is_system',
        'r.created_at',
        'r.updated_at',
      ])
      .select((eb) =>
        eb
          .selectFrom('role_permissions as rp')
          .innerJoin('permissions as p', 'p.id', 'rp.permission_id')
          .whereRef('rp.role_id', '=', 'r.id')
          .select((inner) => inner.fn.agg<string[]>('array_agg', ['p.name']).as('names'))
          .as('permissions'),
      )
      .select((eb) =>
        eb
          .selectFrom('users as u')
          .whereRef('u.role_id', '=', 'r.id')
          .where('u.deleted_at', 'is', null)
          .select((inner) => inner.fn.countAll<string>().as('n'))
          .as('user_count'),
      );
  }

  async list(): Promise<RoleRow[]> {
    const rows = await this.withDetails().orderBy('r.is_system', 'desc').orderBy('r.name').execute();
    return rows.map((row) => ({ ...row, user_count: row.user_count ?? '0' }));
  }

  async find(uuid: string): Promise<RoleRow | undefined> {
    const row = await this.withDetails().where('r.uuid', '=', uuid).executeTakeFirst();
    return row && { ...row, user_count: row.user_count ?? '0' };
  }

  async insert(role: {
    name: string;
    title: string;
    description: string;
  }): Promise<{ id: number; uuid: string }> {
    return this.db.insertInto('roles').values(role).returning(['id', 'uuid']).executeTakeFirstOrThrow();
  }

  async update(id: number, changes: { name?: string; title?: string; description?: string }): Promise<void> {
    await this.db
      .updateTable('roles')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Replaces the role's permission set. */
  async setPermissions(roleId: number, permissions: Permission[]): Promise<void> {
    await this.db.deleteFrom('role_permissions').where('role_id', '=', roleId).execute();
    if (permissions.length === 0) return;
    await this.db
      .insertInto('role_permissions')
      .columns(['role_id', 'permission_id'])
      .expression((eb) =>
        eb
          .selectFrom('permissions')
          .select([eb.val(roleId).as('role_id'), 'id as permission_id'])
          .where('name', 'in', permissions),
      )
      .execute();
  }

  /**
   * Soft-deleted users keep a role reference (history); before their role goes they are moved to
   * `fallbackName` (MEMBER), since the foreign key must hold.
   */
  async reassignDeletedHolders(roleId: number, fallbackName: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set((eb) => ({
        role_id: eb
          .selectFrom('roles as fallback')
          .select('fallback.id')
          .where('fallback.name', '=', fallbackName)
          .limit(1),
      }))
      .where('role_id', '=', roleId)
      .where('deleted_at', 'is not', null)
      .execute();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('roles').where('id', '=', id).execute();
  }

  catalogue(): Promise<Array<{ name: string; title: string }>> {
    return this.db.selectFrom('permissions').select(['name', 'title']).orderBy('id').execute();
  }
}
