/**
 * The control center's service layer: tenant views (revision / head / behind), creation, migration,
 * deletion — over the registry, the tenant service and the runner (no SQL here), keeping this process's
 * registry cache in step with every change it makes. Also the one place that maps the domain's errors to
 * problems for /cc and its aliases.
 */
import type { Core } from '../../core.ts';
import { UnknownHostError } from '../../db/hosts.ts';
import { type HttpProblem, problems } from '../../http/problem.ts';
import { comparableChecksum } from '../../migrations/checksum.ts';
import { MigrationSetError } from '../../migrations/migration-set.ts';
import {
  DataLossError,
  MigrationFailedError,
  RunnerInputError,
  type RunResult,
  SchemaExistsError,
  UnknownRevisionError,
} from '../../migrations/runner.ts';
import type { DomainCache } from '../../tenancy/domain-cache.ts';
import { InvalidDomainError } from '../../tenancy/domain-name.ts';
import { DomainNotFoundError, type DomainRow, DomainTakenError } from '../../tenancy/domains.ts';
import { hostStats } from '../../tenancy/host-stats.ts';
import { NoHostAvailableError } from '../../tenancy/placement.ts';
import type { TenantRow } from '../../tenancy/registry.ts';
import type { RegistryCache } from '../../tenancy/registry-cache.ts';
import { InvalidTenantIdError, tenantIdProblem } from '../../tenancy/tenant-id.ts';
import { downgradeTenant, findTenantOrThrow, upgradeTenant } from '../../tenancy/tenant-migrations.ts';
import { TenantExistsError, TenantNotFoundError } from '../../tenancy/tenant-service.ts';
import { revisionsBehind } from '../../tenancy/tenant-upgrader.ts';
import type {
  DomainView,
  HistoryEntry,
  HostView,
  Paginated,
  PlacementView,
  RunView,
  TenantDetail,
  TenantView,
} from './schemas.ts';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** 400 for ids that are not tenant ids (reserved names included), before anything touches a database. */
export function requireTenantId(value: string, field = 'tenant id'): string {
  const problem = tenantIdProblem(value);
  if (problem) throw problems.badRequest(`Invalid ${field}: ${problem}`);
  return value;
}

/** Domain errors → problems; anything else is rethrown for the error handler (SQLSTATE, 500). */
export function ccProblem(error: unknown): HttpProblem | undefined {
  if (error instanceof TenantExistsError || error instanceof SchemaExistsError)
    return problems.conflict(error.message);
  if (error instanceof TenantNotFoundError) return problems.notFound('tenant', error.tenantId);
  if (error instanceof UnknownHostError)
    return problems.badRequest(`${error.message}; configured hosts come from TENANT_DATABASE_URLS`);
  if (error instanceof InvalidTenantIdError || error instanceof MigrationSetError)
    return problems.badRequest(error.message);
  if (error instanceof RunnerInputError) return problems.badRequest(error.message);
  if (error instanceof InvalidDomainError) return problems.badRequest(error.message);
  if (error instanceof DomainTakenError) return problems.conflict(error.message);
  if (error instanceof DomainNotFoundError) return problems.notFound('domain', error.domain);
  if (error instanceof UnknownRevisionError) return problems.conflict(error.message);
  if (error instanceof NoHostAvailableError) return problems.unavailable(error.message, 5);
  if (error instanceof DataLossError)
    return problems.conflict(`${error.message}; repeat the tenant id in "confirm" to go ahead`);
  // Admin-only routes: the operator needs the PostgreSQL message to fix the migration.
  if (error instanceof MigrationFailedError) return problems.unprocessable(error.message);
  return undefined;
}

async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw ccProblem(error) ?? error;
  }
}

export class ControlCenter {
  constructor(
    private readonly core: Core,
    private readonly cache: RegistryCache,
    private readonly domainCache: DomainCache,
  ) {}

  get head(): string | null {
    return this.core.tenantRunner.set.head;
  }

  view(row: TenantRow, domains: string[]): TenantView {
    return {
      tenant_id: row.tenant_id,
      uuid: row.uuid,
      name: row.name,
      host: row.host,
      domains,
      status: row.status,
      revision: row.revision,
      head: this.head,
      behind: revisionsBehind(this.core.tenantRunner.set, row.revision),
      migration_status: row.migration_status,
      migration_error: row.migration_error,
      pinned: row.pinned_at !== null,
      migrated_at: iso(row.migrated_at),
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  }

  run(tenantId: string, result: RunResult): RunView {
    return {
      tenant_id: tenantId,
      dry_run: result.dryRun,
      from: result.from,
      to: result.to,
      steps: result.steps.map((step) => ({
        revision: step.revision,
        name: step.name,
        description: step.description,
        duration_ms: step.durationMs,
      })),
      duration_ms: result.durationMs,
    };
  }

  async list(query: { page: number; size: number; search?: string }): Promise<Paginated<TenantView>> {
    const { rows, total } = await this.core.registry.page({
      offset: (query.page - 1) * query.size,
      limit: query.size,
      search: query.search,
    });
    const domains = await this.core.domains.domainsOf(rows.map((row) => row.tenant_id));
    return {
      items: rows.map((row) => this.view(row, domains.get(row.tenant_id) ?? [])),
      total,
      page: query.page,
      size: query.size,
      pages: Math.ceil(total / query.size),
    };
  }

  /** `host` is the database host; `domains` are normalised and created with the tenant, atomically. */
  async create(input: {
    name: string;
    tenant_id?: string;
    host?: string;
    domains?: string[];
  }): Promise<{ tenant: TenantView; migration: RunView; placement: PlacementView }> {
    if (input.tenant_id !== undefined) requireTenantId(input.tenant_id, 'tenant_id');
    const name = input.name.trim();
    if (name === '') throw problems.badRequest('name must not be blank');
    if (input.host !== undefined && !this.core.hosts.has(input.host))
      throw ccProblem(new UnknownHostError(input.host));
    const domains = await translated(async () => [
      ...new Set((input.domains ?? []).map((domain) => this.core.domains.normalize(domain))),
    ]);
    const created = await translated(() =>
      this.core.tenants.create({ name, tenantId: input.tenant_id, host: input.host, domains }),
    );
    this.cache.put(created.tenant);
    for (const domain of domains) this.domainCache.invalidate(domain);
    return {
      tenant: this.view(created.tenant, domains.sort()),
      migration: this.run(created.tenant.tenant_id, created.migration),
      placement: created.placement,
    };
  }

  /** Every database host with its tenants, sizes, connections, host-level revision and reachability. */
  async hosts(): Promise<{ policy: string; items: HostView[] }> {
    const items = await hostStats(this.core);
    return { policy: this.core.config.tenantPlacement, items };
  }

  async show(tenantId: string): Promise<TenantDetail> {
    requireTenantId(tenantId);
    const row = await translated(() => findTenantOrThrow(this.core, tenantId));
    let history: HistoryEntry[] = [];
    if (this.core.hosts.has(row.host)) {
      const entries = await this.core.tenantRunner.history({
        host: row.host,
        db: this.core.hosts.db(row.host),
        schema: row.tenant_id,
      });
      history = entries.map((entry) => ({
        revision: entry.revision,
        name: entry.name,
        description: entry.description,
        applied: entry.applied !== null,
        applied_at: iso(entry.applied?.applied_at ?? null),
        duration_ms: entry.applied?.duration_ms ?? null,
        // null: not applied, or recorded by an older runner whose checksums cannot be recomputed.
        checksum_ok: comparableChecksum(entry.applied?.checksum ?? null)
          ? entry.applied?.checksum === entry.checksum
          : null,
      }));
    }
    const domains = (await this.core.domains.domainsOf([row.tenant_id])).get(row.tenant_id) ?? [];
    return { ...this.view(row, domains), history };
  }

  domainView(row: DomainRow): DomainView {
    return { domain: row.domain, tenant_id: row.tenant_id, created_at: row.created_at.toISOString() };
  }

  async listDomains(tenantId: string): Promise<{ tenant_id: string; items: DomainView[] }> {
    requireTenantId(tenantId);
    const rows = await translated(() => this.core.domains.list(tenantId));
    return { tenant_id: tenantId, items: rows.map((row) => this.domainView(row)) };
  }

  async addDomain(tenantId: string, domain: string): Promise<{ domain: DomainView; created: boolean }> {
    requireTenantId(tenantId);
    const { row, created } = await translated(() => this.core.domains.add(tenantId, domain));
    this.domainCache.invalidate(row.domain);
    return { domain: this.domainView(row), created };
  }

  async removeDomain(tenantId: string, domain: string): Promise<void> {
    requireTenantId(tenantId);
    const removed = await translated(() => this.core.domains.remove(tenantId, domain));
    this.domainCache.invalidate(removed);
  }

  async migrate(tenantId: string, options: { target?: string; dryRun?: boolean }): Promise<RunView> {
    requireTenantId(tenantId);
    try {
      const result = await translated(() =>
        upgradeTenant(this.core, tenantId, { to: options.target, dryRun: options.dryRun }),
      );
      return this.run(tenantId, result);
    } finally {
      if (!options.dryRun) this.cache.invalidate(tenantId);
    }
  }

  async downgrade(tenantId: string, steps: number, allowDataLoss = false): Promise<RunView> {
    requireTenantId(tenantId);
    try {
      return this.run(
        tenantId,
        await translated(() => downgradeTenant(this.core, tenantId, { steps, allowDataLoss })),
      );
    } finally {
      this.cache.invalidate(tenantId);
    }
  }

  async delete(tenantId: string, confirm: string | undefined): Promise<void> {
    requireTenantId(tenantId);
    if (confirm !== tenantId) {
      throw problems.badRequest(
        `Deleting a tenant drops its schema and data: repeat its id as ?confirm=${tenantId}`,
      );
    }
    try {
      await translated(() => this.core.tenants.delete(tenantId));
    } finally {
      this.cache.invalidate(tenantId);
    }
  }
}
