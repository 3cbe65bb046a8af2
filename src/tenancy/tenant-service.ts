/**
 * Tenant lifecycle rules (SPEC 5.3, 6, 7): creation and deletion.
 *
 * On the default host a tenant is created in ONE transaction — schema, every tenant migration, registry
 * row — so it exists complete or not at all (a process killed half-way leaves nothing: PostgreSQL rolls the
 * transaction back). On another host the registry row (default host) and the schema (that host) cannot
 * share a transaction: the row is written first as `provisioning`, the schema is built in one transaction
 * there, then the row turns `active` (one UPDATE); `reconcileProvisioning` finishes or removes rows a crash
 * left behind (run at start and periodically by src/tenancy/reconciler.ts).
 */
import { sql } from 'kysely';
import { type AnyDb, type DatabaseHosts, DEFAULT_HOST, UnknownHostError } from '../db/hosts.ts';
import { SQLSTATE, sqlState } from '../db/sqlstate.ts';
import type { MigrationRunner, RunResult } from '../migrations/runner.ts';
import { insertTenantDomains } from './domains.ts';
import type { Placement, PlacementChoice } from './placement.ts';
import type { TenantRegistry, TenantRow } from './registry.ts';
import type { SchemaPool } from './schema-pool.ts';
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

async function dropSchema(conn: AnyDb, schema: string): Promise<void> {
  await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(conn);
}

export interface CreateTenantInput {
  name: string;
  tenantId?: string;
  /** The database host; undefined → the placement policy chooses (TENANT_PLACEMENT). */
  host?: string;
  /** Normalised tenant domains (TenantDomains.normalize), created with the tenant, atomically. */
  domains?: string[];
}

export class TenantService {
  constructor(
    private readonly hosts: DatabaseHosts,
    private readonly registry: TenantRegistry,
    private readonly runner: MigrationRunner,
    private readonly placement?: Placement,
    /** Warm schemas claimed by creations on the default host (src/tenancy/schema-pool.ts). */
    private readonly pool?: SchemaPool,
  ) {}

  /** Creates a tenant on `input.host`, or where the placement policy puts it (src/tenancy/placement.ts). */
  async create(
    input: CreateTenantInput,
    options: { inTransaction?: (conn: AnyDb) => Promise<void> } = {},
  ): Promise<{ tenant: TenantRow; migration: RunResult; placement: PlacementChoice }> {
    const tenantId =
      input.tenantId === undefined ? deriveTenantId(input.name) : assertTenantId(input.tenantId);
    if (input.host !== undefined || !this.placement || this.placement.policy === 'default') {
      const host = input.host ?? DEFAULT_HOST;
      const placement: PlacementChoice = {
        host,
        policy: input.host === undefined ? 'default' : 'named',
        skipped: [],
      };
      return { ...(await this.createOn(host, tenantId, input, options, async () => {})), placement };
    }
    return this.placement.place(async (placement, registered) => ({
      ...(await this.createOn(placement.host, tenantId, input, options, registered)),
      placement,
    }));
  }

  /** `registered` is called once the registry row is committed (the placement turn ends there). */
  private async createOn(
    host: string,
    tenantId: string,
    input: CreateTenantInput,
    options: { inTransaction?: (conn: AnyDb) => Promise<void> },
    registered: () => Promise<void>,
  ): Promise<{ tenant: TenantRow; migration: RunResult }> {
    if (!this.hosts.has(host)) throw new UnknownHostError(host);
    const name = input.name.trim();
    const target = { host, db: this.hosts.db(host), schema: tenantId };

    if (host === DEFAULT_HOST && this.pool && this.pool.size > 0) {
      const started = performance.now();
      const claimed = await this.translateConflicts(tenantId, () =>
        this.hosts
          .db(DEFAULT_HOST)
          .transaction()
          .execute(async (trx) => {
            if (!(await this.pool?.claim(trx, tenantId))) return false;
            await this.registry.insert(
              { tenant_id: tenantId, name, host, status: 'active', revision: this.runner.set.head },
              trx,
            );
            await insertTenantDomains(trx, tenantId, input.domains ?? []);
            await options.inTransaction?.(trx);
            return true;
          }),
      );
      if (claimed) {
        await registered();
        const head = this.runner.set.head;
        const migration: RunResult = {
          schema: tenantId,
          from: head,
          to: head,
          dryRun: false,
          steps: [],
          durationMs: Math.round(performance.now() - started),
        };
        return { tenant: (await this.registry.find(tenantId))!, migration };
      }
      // The pool is empty (or behind head): build the schema as below.
    }

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
      await registered();
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
    await registered();
    let migration: RunResult;
    try {
      migration = await this.translateConflicts(tenantId, () =>
        this.runner.upgrade(target, { mustBeNew: true, inTransaction: options.inTransaction }),
      );
    } catch (error) {
      await this.registry.remove(tenantId);
      throw error;
    }
    await this.registry.activate(tenantId, this.runner.set.head);
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
   * Drops the schema and the registry and directory rows — in one transaction when the tenant lives on
   * the default host. The schema's advisory lock keeps a running migration out. Of several concurrent
   * deletions exactly one succeeds; the others find the tenant gone (TenantNotFoundError): on the default
   * host the row is removed under the lock, so the next holder removes nothing; on another host the row
   * is claimed (`deleting`) by one caller first.
   */
  async delete(tenantId: string): Promise<void> {
    const tenant = await this.registry.find(assertTenantId(tenantId));
    if (!tenant) throw new TenantNotFoundError(tenantId);
    if (tenant.host === DEFAULT_HOST) {
      await this.runner.withSchemaLock(
        { host: tenant.host, db: this.hosts.db(tenant.host), schema: tenantId },
        async (conn) => {
          if (!(await this.registry.remove(tenantId, conn))) throw new TenantNotFoundError(tenantId);
          await dropSchema(conn, tenantId);
        },
      );
      return;
    }
    if (!(await this.registry.claimForDeletion(tenantId))) throw new TenantNotFoundError(tenantId);
    await this.finishDeletion(tenant);
  }

  /** A tenant on another host marked `deleting`: its schema there, then its registry row. */
  private async finishDeletion(tenant: TenantRow): Promise<void> {
    if (!this.hosts.has(tenant.host)) throw new UnknownHostError(tenant.host);
    await this.runner.withSchemaLock(
      { host: tenant.host, db: this.hosts.db(tenant.host), schema: tenant.tenant_id },
      (conn) => dropSchema(conn, tenant.tenant_id),
    );
    await this.registry.remove(tenant.tenant_id);
  }

  /**
   * Finishes or undoes cross-host creations and deletions a crash interrupted (src/tenancy/reconciler.ts
   * calls it at start and periodically). Only rows unchanged for `olderThanSeconds` are touched, so a
   * creation still running in another process is left alone:
   *  - `provisioning` whose schema exists (its one transaction committed): brought to head if needed and
   *    made `active` — the crash came after the schema, before the row turned active;
   *  - `provisioning` without a schema: the row is removed — the crash came before the schema committed;
   *  - `deleting`: the deletion is finished (schema, then row).
   */
  async reconcileProvisioning(olderThanSeconds = 300): Promise<{ finished: string[]; undone: string[] }> {
    const stale = await this.registry.list({ statuses: ['provisioning', 'deleting'] });
    const finished: string[] = [];
    const undone: string[] = [];
    for (const tenant of stale) {
      if (Date.now() - tenant.updated_at.getTime() < olderThanSeconds * 1000) continue;
      if (!this.hosts.has(tenant.host)) continue;
      const target = { host: tenant.host, db: this.hosts.db(tenant.host), schema: tenant.tenant_id };
      if (tenant.status === 'provisioning' && (await this.runner.status(target)).exists) {
        const run = await this.runner.upgrade(target, { mustExist: true });
        await this.registry.activate(tenant.tenant_id, run.to);
        finished.push(tenant.tenant_id);
      } else {
        await this.finishDeletion(tenant);
        undone.push(tenant.tenant_id);
      }
    }
    return { finished, undone };
  }
}
