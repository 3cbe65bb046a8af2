/**
 * Routing by Host (issue 21): domain → tenant id, cached in memory beside the registry cache and kept
 * fresh by the same LISTEN client. The tenant id then goes through the registry cache exactly as a
 * `tenant` header would, so a tenant reached by its domain gets the same answers (suspended → 403,
 * unknown or being deleted → 404, migration failed → 503, behind head → upgraded first).
 *
 * Freshness: the registry cache tells us about every invalidation (RegistryCache.onInvalidate): a
 * `domain:<d>` payload forgets that domain (positive or negative); a tenant id forgets the domains that
 * pointed at it (its deletion removes its domains); a full clear (listener reconnected) clears all.
 * The TTL follows the registry cache's: long while its listener is up, short while it is down.
 * Unknown domains are cached too (bounded, oldest evicted first), so a client sending random Host names
 * costs one query per name per TTL; IP literals and malformed names never reach the database.
 */
import type { FastifyRequest } from 'fastify';
import { setBounded } from '../db/hosts.ts';
import { problems } from '../http/problem.ts';
import { hostDomain } from './domain-name.ts';
import { DOMAIN_NOTIFY_PREFIX, type TenantDomains } from './domains.ts';
import type { RegistryCache } from './registry-cache.ts';

export interface DomainCacheOptions {
  ttlMs?: number;
  fallbackTtlMs?: number;
  /** Most domains remembered at once, known and unknown each (default 10,000). */
  max?: number;
}

interface Entry {
  tenantId: string | null;
  storedAt: number;
}

export class DomainCache {
  private readonly positive = new Map<string, Entry>();
  private readonly negative = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<string | null>>();
  /** tenant id → its cached domains, so a tenant's change costs no scan of every domain. */
  private readonly byTenant = new Map<string, Set<string>>();
  /**
   * Host name → its domain (or null): parsing costs ~1–5 µs (regexes, IDNA), a Map hit ~0.05 µs, and a
   * server sees few distinct Host names. Bounded, oldest first out, so junk Hosts cannot grow it.
   */
  private readonly parsedHosts = new Map<string, string | null>();
  private epoch = 0;
  private readonly options: Required<DomainCacheOptions>;
  /** Database lookups made (tests assert the negative cache spares the database). */
  lookups = 0;

  constructor(
    private readonly domains: TenantDomains,
    private readonly registryCache: RegistryCache,
    options: DomainCacheOptions = {},
  ) {
    this.options = { ttlMs: 60_000, fallbackTtlMs: 2_000, max: 10_000, ...options };
    registryCache.onInvalidate((key) => {
      if (key === null) this.clear();
      else if (key.startsWith(DOMAIN_NOTIFY_PREFIX)) this.invalidate(key.slice(DOMAIN_NOTIFY_PREFIX.length));
      else this.forgetTenant(key);
    });
  }

  /** The tenant whose domain is the request's host name, or null (no such domain, or not a domain). */
  async tenantOfHost(hostname: string | undefined): Promise<string | null> {
    if (hostname === undefined) return null;
    let domain = this.parsedHosts.get(hostname);
    if (domain === undefined) domain = setBounded(this.parsedHosts, hostname, hostDomain(hostname), 1_000);
    return domain === null ? null : this.tenantOf(domain);
  }

  /** The tenant owning a normalised domain, or null. */
  async tenantOf(domain: string): Promise<string | null> {
    const ttl = this.registryCache.stats().listening ? this.options.ttlMs : this.options.fallbackTtlMs;
    const cached = this.positive.get(domain) ?? this.negative.get(domain);
    if (cached && Date.now() - cached.storedAt < ttl) return cached.tenantId;
    let pending = this.inFlight.get(domain);
    if (!pending) {
      pending = this.load(domain).finally(() => {
        if (this.inFlight.get(domain) === pending) this.inFlight.delete(domain);
      });
      this.inFlight.set(domain, pending);
    }
    return pending;
  }

  private async load(domain: string): Promise<string | null> {
    const epoch = this.epoch;
    this.lookups++;
    const tenantId = await this.domains.owner(domain);
    if (epoch === this.epoch) {
      this.drop(domain);
      const entry = { tenantId, storedAt: Date.now() };
      if (tenantId === null) {
        setBounded(this.negative, domain, entry, this.options.max);
      } else if (this.positive.size < this.options.max) {
        // Known domains are few (an operator adds them); past the bound we simply stop caching.
        this.positive.set(domain, entry);
        const domains = this.byTenant.get(tenantId) ?? new Set<string>();
        domains.add(domain);
        this.byTenant.set(tenantId, domains);
      }
    }
    return tenantId;
  }

  private drop(domain: string): void {
    const tenantId = this.positive.get(domain)?.tenantId;
    if (tenantId) {
      const domains = this.byTenant.get(tenantId);
      domains?.delete(domain);
      if (domains?.size === 0) this.byTenant.delete(tenantId);
    }
    this.positive.delete(domain);
    this.negative.delete(domain);
  }

  invalidate(domain: string): void {
    this.epoch++;
    this.drop(domain);
    this.inFlight.delete(domain);
  }

  /** Forgets the domains that pointed at a tenant (its row changed or went away). */
  forgetTenant(tenantId: string): void {
    const domains = this.byTenant.get(tenantId);
    if (!domains) return;
    for (const domain of [...domains]) this.invalidate(domain);
  }

  clear(): void {
    this.epoch++;
    this.positive.clear();
    this.negative.clear();
    this.byTenant.clear();
    this.inFlight.clear();
  }

  stats(): { positive: number; negative: number; lookups: number } {
    return { positive: this.positive.size, negative: this.negative.size, lookups: this.lookups };
  }
}

/**
 * The tenant a request is for: its `tenant` header when present, else the tenant whose domain its Host
 * is. Both given → they must agree (400 otherwise, before anything of a tenant is read). Returns
 * undefined when neither names a tenant (the caller answers as it did before routing by Host).
 */
export async function hostTenantId(
  cache: DomainCache,
  request: FastifyRequest,
  headerTenant: string | undefined,
): Promise<string | undefined> {
  const byHost = await cache.tenantOfHost(request.hostname);
  if (byHost === null) return headerTenant;
  if (headerTenant !== undefined && headerTenant !== byHost) {
    throw problems.badRequest(
      `The "tenant" header names a different tenant than the domain ${JSON.stringify(hostDomain(request.hostname))}: send one of them, or both for the same tenant`,
    );
  }
  return byHost;
}
