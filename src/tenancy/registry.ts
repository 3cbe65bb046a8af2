/**
 * The tenant registry: `public.tenants` on the default host (SPEC 3.1). Only SQL lives here; the rules
 * (creation in one transaction, deletion order) are in tenant-service.ts.
 */
import { sql } from 'kysely';
import type { AnyDb } from '../db/hosts.ts';

export type TenantStatus = 'provisioning' | 'active' | 'suspended' | 'deleting';
export type MigrationStatus = 'ok' | 'failed' | 'pending';

export interface TenantRow {
  id: string;
  uuid: string;
  tenant_id: string;
  name: string;
  host: string;
  status: TenantStatus;
  revision: string | null;
  migration_status: MigrationStatus;
  migration_error: string | null;
  migrated_at: Date | null;
  /** Set by a deliberate downgrade: no automatic upgrade until an explicit one (public revision 5f1c0a9d2e47). */
  pinned_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * What to record for a tenant whose schema holds revisions this code does not know (the database is
 * newer than the code, e.g. during a rolling deploy or after a code rollback): nothing failed, so the
 * status stays `ok`, and the registry shows the schema's real (unknown) revision rather than an older one.
 */
export function aheadOutcome(unknownRevisions: readonly string[]): {
  revision: string | null;
  status: MigrationStatus;
  error: null;
} {
  return { revision: unknownRevisions.at(-1) ?? null, status: 'ok', error: null };
}

export interface TenantFilter {
  tenants?: string[];
  host?: string;
  onlyFailed?: boolean;
  statuses?: TenantStatus[];
}

const COLUMNS = [
  'id',
  'uuid',
  'tenant_id',
  'name',
  'host',
  'status',
  'revision',
  'migration_status',
  'migration_error',
  'migrated_at',
  'pinned_at',
  'created_at',
  'updated_at',
] as const;

/** NOTIFY channel other processes LISTEN on to keep their registry cache fresh. */
export const REGISTRY_CHANNEL = 'tenantry_registry';

export class TenantRegistry {
  /** `db` is the default host (where the public schema lives). */
  constructor(private readonly db: AnyDb) {}

  private tenants(db: AnyDb = this.db) {
    return db.withSchema('public').selectFrom('tenants');
  }

  async find(tenantId: string, db: AnyDb = this.db): Promise<TenantRow | undefined> {
    return (await this.tenants(db).select(COLUMNS).where('tenant_id', '=', tenantId).executeTakeFirst()) as
      | TenantRow
      | undefined;
  }

  async list(filter: TenantFilter = {}): Promise<TenantRow[]> {
    let query = this.tenants().select(COLUMNS).orderBy('tenant_id');
    if (filter.tenants) query = query.where('tenant_id', 'in', filter.tenants.length ? filter.tenants : ['']);
    if (filter.host) query = query.where('host', '=', filter.host);
    if (filter.onlyFailed) query = query.where('migration_status', '=', 'failed');
    if (filter.statuses) query = query.where('status', 'in', filter.statuses);
    return (await query.execute()) as TenantRow[];
  }

  async page(options: {
    offset: number;
    limit: number;
    search?: string;
  }): Promise<{ rows: TenantRow[]; total: number }> {
    let query = this.tenants();
    if (options.search) {
      const pattern = `%${options.search.replace(/[\\%_]/g, '\\$&')}%`;
      query = query.where((eb) => eb.or([eb('tenant_id', 'ilike', pattern), eb('name', 'ilike', pattern)]));
    }
    const rows = await query
      .select([...COLUMNS, sql<string>`count(*) over ()`.as('total')])
      .orderBy('tenant_id')
      .offset(options.offset)
      .limit(options.limit)
      .execute();
    let total = rows.length > 0 ? Number(rows[0]!.total) : 0;
    if (rows.length === 0 && options.offset > 0) {
      const counted = await query.select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow();
      total = Number(counted.n);
    }
    return { rows: rows.map(({ total: _total, ...row }) => row) as TenantRow[], total };
  }

  async insert(
    row: { tenant_id: string; name: string; host: string; status: TenantStatus; revision: string | null },
    db: AnyDb = this.db,
  ): Promise<void> {
    await db
      .withSchema('public')
      .insertInto('tenants')
      .values({
        ...row,
        migration_status: row.status === 'active' ? 'ok' : 'pending',
        migrated_at: row.status === 'active' ? sql`now()` : null,
      })
      .execute();
    await this.notify(row.tenant_id, db);
  }

  async setStatus(tenantId: string, status: TenantStatus, db: AnyDb = this.db): Promise<void> {
    await db
      .withSchema('public')
      .updateTable('tenants')
      .set({ status, updated_at: sql`now()` })
      .where('tenant_id', '=', tenantId)
      .execute();
    await this.notify(tenantId, db);
  }

  /**
   * Writes one tenant's migration outcome (fleet runs and single upgrades). `pinned`: true after a
   * deliberate downgrade, false after an explicit upgrade, omitted to leave the pin as it is.
   */
  async recordMigration(
    tenantId: string,
    outcome: { revision: string | null; status: MigrationStatus; error: string | null; pinned?: boolean },
    db: AnyDb = this.db,
  ): Promise<void> {
    await db
      .withSchema('public')
      .updateTable('tenants')
      .set({
        revision: outcome.revision,
        migration_status: outcome.status,
        migration_error: outcome.error,
        migrated_at: sql`now()`,
        updated_at: sql`now()`,
        ...(outcome.pinned === undefined ? {} : { pinned_at: outcome.pinned ? sql`now()` : null }),
      })
      .where('tenant_id', '=', tenantId)
      .execute();
    await this.notify(tenantId, db);
  }

  /** A cross-host creation's last step, in one statement: migrated to `revision` and `active`. */
  async activate(tenantId: string, revision: string | null): Promise<void> {
    await this.db
      .withSchema('public')
      .updateTable('tenants')
      .set({
        status: 'active',
        revision,
        migration_status: 'ok',
        migration_error: null,
        migrated_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('tenant_id', '=', tenantId)
      .execute();
    await this.notify(tenantId);
  }

  /**
   * Marks the tenant `deleting` unless it is already: true for exactly one of several concurrent callers,
   * so only one deletion proceeds and the others answer "not found".
   */
  async claimForDeletion(tenantId: string): Promise<boolean> {
    const result = await this.db
      .withSchema('public')
      .updateTable('tenants')
      .set({ status: 'deleting', updated_at: sql`now()` })
      .where('tenant_id', '=', tenantId)
      .where('status', '<>', 'deleting')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await this.notify(tenantId);
    return true;
  }

  /** Removes the registry row; the account directory rows go with it (ON DELETE CASCADE). */
  async remove(tenantId: string, db: AnyDb = this.db): Promise<boolean> {
    const result = await db
      .withSchema('public')
      .deleteFrom('tenants')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    await this.notify(tenantId, db);
    return Number(result.numDeletedRows) > 0;
  }

  /** Tells every process (LISTEN) that a tenant's row changed; delivered at commit. */
  async notify(tenantId: string, db: AnyDb = this.db): Promise<void> {
    await sql`SELECT pg_notify(${REGISTRY_CHANNEL}, ${tenantId})`.execute(db);
  }
}
