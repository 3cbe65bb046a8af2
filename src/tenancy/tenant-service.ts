/**
 * Tenant lifecycle rules (SPEC 5.3, 6, 7): creation and deletion.
 *
 * On the default host a tenant is created in ONE transaction — schema, every tenant migration, registry
 * row — so it exists complete or not at all (a process killed half-way leaves nothing: PostgreSQL rolls the
 * transaction back). On another host the registry row (default host) and the schema (that host) cannot
 * share a transaction: the row is written first as `provisioning`, the schema is built in one transaction
 * there, then the row turns `active`; `reconcileProvisioning` finishes or removes rows a crash left behind.
 */
import { sql } from 'kysely';
import { type AnyDb, type DatabaseHosts, DEFAULT_HOST, UnknownHostError } from '../db/hosts.ts';
import { SQLSTATE, sqlState } from '../db/sqlstate.ts';
import type { MigrationRunner, RunResult } from '../migrations/runner.ts';
import { insertTenantDomains } from './domains.ts';
import type { TenantRegistry, TenantRow } from './registry.ts';
import { assertTenantId, deriveTenantId } from './tenant-id.ts';

export class TenantExistsError extends Error {
  override name = 'TenantExistsError';
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" already exists`);
  }
}

export class TenantNotFoundError extends Error {
  override name = 'TenantNotFoundError';
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" does not exist`);
  }
}

export interface CreateTenantInput {
  name: string;
  tenantId?: string;
  host?: string;
  /** Normalised tenant domains (TenantDomains.normalize), created with the tenant, atomically. */
  domains?: string[];
}

export class TenantService {
  constructor(
    private readonly hosts: DatabaseHosts,
    private readonly registry: TenantRegistry,
    private readonly runner: MigrationRunner,
  ) {}

  async create(
    input: CreateTenantInput,
    options: { inTransaction?: (conn: AnyDb) => Promise<void> } = {},
  ): Promise<{ tenant: TenantRow; migration: RunResult }> {
    const tenantId =
      input.tenantId === undefined ? deriveTenantId(input.name) : assertTenantId(input.tenantId);
    const host = input.host ?? DEFAULT_HOST;
    if (!this.hosts.has(host)) throw new UnknownHostError(host);
    const name = input.name.trim();
    const target = { host, db: this.hosts.db(host), schema: tenantId };

    if (host === DEFAULT_HOST) {
      const migration = await this.translateConflicts(tenantId, () =>
        this.runner.upgrade(target, {
          mustBeNew: true,
          inTransaction: async (conn) => {
            await this.registry.insert(
              { tenant_id: tenantId, name, host, status: 'active', revision: this.runner.set.head },
              conn,
            );
            await insertTenantDomains(conn, tenantId, input.domains ?? []);
            await options.inTransaction?.(conn);
          },
        }),
      );
      return { tenant: (await this.registry.find(tenantId))!, migration };
    }

    await this.translateConflicts(tenantId, () =>
      this.hosts
        .db(DEFAULT_HOST)
        .transaction()
        .execute(async (trx) => {
          await this.registry.insert(
            { tenant_id: tenantId, name, host, status: 'provisioning', revision: null },
            trx,
          );
          await insertTenantDomains(trx, tenantId, input.domains ?? []);
        }),
    );
    let migration: RunResult;
    try {
      migration = await this.translateConflicts(tenantId, () =>
        this.runner.upgrade(target, { mustBeNew: true, inTransaction: options.inTransaction }),
      );
    } catch (error) {
      await this.registry.remove(tenantId);
      throw error;
    }
    await this.registry.recordMigration(tenantId, {
      revision: this.runner.set.head,
      status: 'ok',
      error: null,
    });
    await this.registry.setStatus(tenantId, 'active');
    return { tenant: (await this.registry.find(tenantId))!, migration };
  }

  private async translateConflicts<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = sqlState(error);
      if (code === SQLSTATE.UNIQUE_VIOLATION || code === SQLSTATE.DUPLICATE_SCHEMA)
        throw new TenantExistsError(tenantId);
      if (error instanceof Error && error.name === 'SchemaExistsError') throw new TenantExistsError(tenantId);
      throw error;
    }
  }

  /**
   * Drops the schema, then the registry and directory rows — in that order, in one transaction when the
   * tenant lives on the default host. The schema's advisory lock keeps a running migration out.
   */
  async delete(tenantId: string): Promise<void> {
    const tenant = await this.registry.find(assertTenantId(tenantId));
    if (!tenant) throw new TenantNotFoundError(tenantId);
    const dropSchema = async (conn: AnyDb) => {
      await sql`DROP SCHEMA IF EXISTS ${sql.id(tenant.tenant_id)} CASCADE`.execute(conn);
    };
    if (tenant.host === DEFAULT_HOST) {
      await this.runner.withSchemaLock(
        { host: tenant.host, db: this.hosts.db(tenant.host), schema: tenantId },
        async (conn) => {
          await dropSchema(conn);
          await this.registry.remove(tenantId, conn);
        },
      );
      return;
    }
    await this.registry.setStatus(tenantId, 'deleting');
    await this.runner.withSchemaLock(
      { host: tenant.host, db: this.hosts.db(tenant.host), schema: tenantId },
      dropSchema,
    );
    await this.registry.remove(tenantId);
  }

  /** Finishes or undoes cross-host creations interrupted by a crash (rows left in `provisioning`). */
  async reconcileProvisioning(olderThanSeconds = 300): Promise<string[]> {
    const stale = await this.registry.list({ statuses: ['provisioning', 'deleting'] });
    const fixed: string[] = [];
    for (const tenant of stale) {
      if (Date.now() - tenant.updated_at.getTime() < olderThanSeconds * 1000) continue;
      if (!this.hosts.has(tenant.host)) continue;
      const status = await this.runner.status({
        host: tenant.host,
        db: this.hosts.db(tenant.host),
        schema: tenant.tenant_id,
      });
      if (tenant.status === 'provisioning' && status.exists && status.current === status.head) {
        await this.registry.recordMigration(tenant.tenant_id, {
          revision: status.current,
          status: 'ok',
          error: null,
        });
        await this.registry.setStatus(tenant.tenant_id, 'active');
      } else if (tenant.status === 'deleting' || !status.exists) {
        await this.delete(tenant.tenant_id);
      } else {
        continue;
      }
      fixed.push(tenant.tenant_id);
    }
    return fixed;
  }
}
