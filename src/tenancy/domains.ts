/**
 * Tenant domains (issue 21): `public.tenant_domains` on the default host — SQL and the rules of adding
 * and removing. Shared by the control center and the CLI (`core.domains`); routing reads through
 * DomainCache (domain-cache.ts).
 *
 * Every change NOTIFYs `domain:<domain>` on the registry channel in its own transaction, so every
 * process's cache forgets that domain at commit (tenant ids never contain ':', so the payloads of the
 * two kinds never collide). Lock order: the INSERT's foreign key takes the tenant's registry row
 * (FOR KEY SHARE) — the first lock of the global order — and nothing after it.
 */
import { sql } from 'kysely';
import type { AnyDb } from '../db/hosts.ts';
import { SQLSTATE, sqlState } from '../db/sqlstate.ts';
import { normalizeDomain } from './domain-name.ts';
import { REGISTRY_CHANNEL } from './registry.ts';
import { TenantNotFoundError } from './tenant-service.ts';

/** Payload prefix of a domain change on the registry channel. */
export const DOMAIN_NOTIFY_PREFIX = 'domain:';

export class DomainTakenError extends Error {
  override name = 'DomainTakenError';
  constructor(readonly domain: string) {
    super(`domain "${domain}" already belongs to a tenant`);
  }
}

export class DomainNotFoundError extends Error {
  override name = 'DomainNotFoundError';
  constructor(
    readonly tenantId: string,
    readonly domain: string,
  ) {
    super(`domain "${domain}" is not a domain of tenant "${tenantId}"`);
  }
}

export interface DomainRow {
  domain: string;
  tenant_id: string;
  created_at: Date;
}

const table = (db: AnyDb) => db.withSchema('public');

async function notifyDomain(db: AnyDb, domain: string): Promise<void> {
  await sql`SELECT pg_notify(${REGISTRY_CHANNEL}, ${DOMAIN_NOTIFY_PREFIX + domain})`.execute(db);
}

/**
 * Inserts already-normalised domains for a tenant inside the caller's transaction (tenant creation:
 * the tenant and its domains exist together or not at all). A taken domain → DomainTakenError.
 */
export async function insertTenantDomains(db: AnyDb, tenantId: string, domains: string[]): Promise<void> {
  if (domains.length === 0) return;
  try {
    await table(db)
      .insertInto('tenant_domains')
      .values(domains.map((domain) => ({ domain, tenant_id: tenantId })))
      .execute();
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION)
      throw new DomainTakenError(takenDomain(error, domains));
    throw error;
  }
  for (const domain of domains) await notifyDomain(db, domain);
}

/** The domain named in a unique violation's detail: `Key (domain)=(acme.example.com) already exists.` */
function takenDomain(error: unknown, domains: string[]): string {
  const detail = error instanceof Error && 'detail' in error ? String(error.detail) : '';
  return domains.find((domain) => detail.includes(`=(${domain})`)) ?? domains[0]!;
}

export class TenantDomains {
  /**
   * @param db the default host (public schema)
   * @param baseDomain normalised TENANT_BASE_DOMAIN: a bare label `acme` means `acme.<baseDomain>`
   */
  constructor(
    private readonly db: AnyDb,
    readonly baseDomain: string | undefined,
  ) {}

  /** Operator input → stored form (throws InvalidDomainError). */
  normalize(input: string): string {
    return normalizeDomain(input, this.baseDomain);
  }

  /** The tenant owning `domain` (normalised), or null. */
  async owner(domain: string): Promise<string | null> {
    const row = await table(this.db)
      .selectFrom('tenant_domains')
      .select('tenant_id')
      .where('domain', '=', domain)
      .executeTakeFirst();
    return row ? String(row.tenant_id) : null;
  }

  /**
   * Adds a domain. Adding a domain the tenant already has is not an error (`created: false`); one that
   * belongs to another tenant → DomainTakenError; an unknown tenant → TenantNotFoundError.
   */
  async add(tenantId: string, input: string): Promise<{ row: DomainRow; created: boolean }> {
    const domain = this.normalize(input);
    const inserted = await this.db.transaction().execute(async (trx) => {
      let row: DomainRow | undefined;
      try {
        row = (await table(trx)
          .insertInto('tenant_domains')
          .values({ domain, tenant_id: tenantId })
          .onConflict((oc) => oc.column('domain').doNothing())
          .returning(['domain', 'tenant_id', 'created_at'])
          .executeTakeFirst()) as DomainRow | undefined;
      } catch (error) {
        if (sqlState(error) === SQLSTATE.FOREIGN_KEY_VIOLATION) throw new TenantNotFoundError(tenantId);
        throw error;
      }
      if (row) await notifyDomain(trx, domain);
      return row;
    });
    if (inserted) return { row: inserted, created: true };
    const existing = (await table(this.db)
      .selectFrom('tenant_domains')
      .select(['domain', 'tenant_id', 'created_at'])
      .where('domain', '=', domain)
      .executeTakeFirst()) as DomainRow | undefined;
    if (existing?.tenant_id === tenantId) return { row: existing, created: false };
    // Taken by another tenant (or removed in between: still not ours to answer with).
    throw new DomainTakenError(domain);
  }

  /** Removes one of the tenant's domains; DomainNotFoundError when it is not theirs. */
  async remove(tenantId: string, input: string): Promise<string> {
    const domain = this.normalize(input);
    await this.requireTenant(tenantId);
    const removed = await this.db.transaction().execute(async (trx) => {
      const result = await table(trx)
        .deleteFrom('tenant_domains')
        .where('domain', '=', domain)
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await notifyDomain(trx, domain);
      return true;
    });
    if (!removed) throw new DomainNotFoundError(tenantId, domain);
    return domain;
  }

  /** The tenant's domains, sorted; TenantNotFoundError for an unknown tenant. */
  async list(tenantId: string): Promise<DomainRow[]> {
    await this.requireTenant(tenantId);
    return (await table(this.db)
      .selectFrom('tenant_domains')
      .select(['domain', 'tenant_id', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .orderBy('domain')
      .execute()) as DomainRow[];
  }

  /** Domains of several tenants in one query (tenant lists). */
  async domainsOf(tenantIds: string[]): Promise<Map<string, string[]>> {
    const byTenant = new Map<string, string[]>(tenantIds.map((id) => [id, []]));
    if (tenantIds.length === 0) return byTenant;
    const rows = await table(this.db)
      .selectFrom('tenant_domains')
      .select(['tenant_id', 'domain'])
      .where('tenant_id', 'in', tenantIds)
      .orderBy('domain')
      .execute();
    for (const row of rows) byTenant.get(String(row.tenant_id))?.push(String(row.domain));
    return byTenant;
  }

  private async requireTenant(tenantId: string): Promise<void> {
    const found = await table(this.db)
      .selectFrom('tenants')
      .select('tenant_id')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (!found) throw new TenantNotFoundError(tenantId);
  }
}
