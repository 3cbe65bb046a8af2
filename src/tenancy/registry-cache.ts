/**
 * In-memory cache of registry rows (SPEC 2): tenant id → host, schema, status, revision, migration
 * status. Every tenant request resolves through it, so a known tenant costs no registry query.
 *
 * Freshness, in three layers:
 *  1. changes made by this process call `invalidate`/`put` at once (the control center, the on-demand
 *     upgrader);
 *  2. other processes' changes arrive through LISTEN on `tenantry_registry` (TenantRegistry NOTIFYs the
 *     tenant id in the same transaction as the change) on ONE dedicated client per process, which
 *     reconnects with backoff when it drops and clears the cache when it comes back (notifications sent
 *     while it was away are lost);
 *  3. a TTL as the safety net — long while the listener is up, short while it is down.
 *
 * Unknown tenants are cached too (negative cache, bounded, oldest evicted first), so a client hammering
 * random names costs one registry query per name per TTL, not one per request. Concurrent lookups of
 * one id share a single query.
 */
import pg from 'pg';
import { setBounded } from '../db/hosts.ts';
import { REGISTRY_CHANNEL, type TenantRegistry, type TenantRow } from './registry.ts';

/** What routing needs from a registry row. */
export interface CachedTenant {
  tenantId: string;
  name: string;
  host: string;
  /** Schema name; equals the tenant id (SPEC 6), kept separate so callers never assume it. */
  schema: string;
  status: TenantRow['status'];
  revision: string | null;
  migrationStatus: TenantRow['migration_status'];
  /** Downgraded on purpose: never upgraded on demand (tenant-upgrader.ts). */
  pinned: boolean;
}

export interface RegistryCacheOptions {
  /** Entry lifetime while the listener is connected (default 60 s). */
  ttlMs?: number;
  /** Entry lifetime while it is not (default 2 s): the fallback when NOTIFY cannot reach us. */
  fallbackTtlMs?: number;
  /** Most unknown names remembered at once (default 10,000). */
  negativeMax?: number;
  /** Connection string for the LISTEN client; omitted → no listener, fallback TTL only. */
  listenUrl?: string;
  /** First reconnect delay; doubles up to 30 s. */
  reconnectDelayMs?: number;
  onListenerError?: (error: unknown) => void;
}

interface Entry {
  value: CachedTenant | null;
  storedAt: number;
}

export function toCachedTenant(row: TenantRow): CachedTenant {
  return {
    tenantId: row.tenant_id,
    name: row.name,
    host: row.host,
    schema: row.tenant_id,
    status: row.status,
    revision: row.revision,
    migrationStatus: row.migration_status,
    pinned: row.pinned_at !== null,
  };
}

/** Idle time before the LISTEN connection's first TCP keep-alive probe. */
export const LISTEN_KEEPALIVE_DELAY_MS = 10_000;

export class RegistryCache {
  private readonly positive = new Map<string, Entry>();
  /** Insertion-ordered, so the first key is the oldest: cheap bounded eviction. */
  private readonly negative = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<CachedTenant | null>>();
  /** Bumped by every invalidation: a lookup that started before one must not store its (stale) row. */
  private epoch = 0;
  private readonly options: Required<Omit<RegistryCacheOptions, 'listenUrl' | 'onListenerError'>> &
    Pick<RegistryCacheOptions, 'listenUrl' | 'onListenerError'>;
  /** The LISTEN client while connected (tests read its settings). */
  listener: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;
  private readonly listeningWaiters: Array<() => void> = [];
  /** Caches built on this one (tenant domains, domain-cache.ts): told the key, or null for everything. */
  private readonly invalidationListeners: Array<(key: string | null) => void> = [];

  /** Registry queries made (tests assert the negative cache spares the database). */
  lookups = 0;

  constructor(
    private readonly registry: TenantRegistry,
    options: RegistryCacheOptions = {},
  ) {
    this.options = {
      ttlMs: 60_000,
      fallbackTtlMs: 2_000,
      negativeMax: 10_000,
      reconnectDelayMs: 500,
      ...options,
    };
    this.reconnectDelay = this.options.reconnectDelayMs;
  }

  /** The tenant's row, or null when no such tenant exists. Throws when the registry cannot be read. */
  async get(tenantId: string): Promise<CachedTenant | null> {
    const now = Date.now();
    const ttl = this.listening ? this.options.ttlMs : this.options.fallbackTtlMs;
    const cached = this.positive.get(tenantId) ?? this.negative.get(tenantId);
    if (cached && now - cached.storedAt < ttl) return cached.value;

    let pending = this.inFlight.get(tenantId);
    if (!pending) {
      pending = this.load(tenantId).finally(() => {
        if (this.inFlight.get(tenantId) === pending) this.inFlight.delete(tenantId);
      });
      this.inFlight.set(tenantId, pending);
    }
    return pending;
  }

  private async load(tenantId: string): Promise<CachedTenant | null> {
    const epoch = this.epoch;
    this.lookups++;
    const row = await this.registry.find(tenantId);
    const value = row ? toCachedTenant(row) : null;
    if (epoch === this.epoch) this.store(tenantId, value);
    return value;
  }

  private store(tenantId: string, value: CachedTenant | null): void {
    const entry = { value, storedAt: Date.now() };
    if (value) {
      this.negative.delete(tenantId);
      this.positive.set(tenantId, entry);
      return;
    }
    this.positive.delete(tenantId);
    // Deleted first so a re-stored miss moves to the end: the oldest misses go first.
    this.negative.delete(tenantId);
    setBounded(this.negative, tenantId, entry, this.options.negativeMax);
  }

  /** Records a row this process just wrote (cheaper than a re-read; NOTIFY will confirm it). */
  put(row: TenantRow): void {
    this.epoch++;
    this.inFlight.delete(row.tenant_id);
    this.store(row.tenant_id, toCachedTenant(row));
  }

  /** Forgets one tenant (positive or negative); the next request re-reads the registry. */
  invalidate(tenantId: string): void {
    this.epoch++;
    this.positive.delete(tenantId);
    this.negative.delete(tenantId);
    this.inFlight.delete(tenantId);
    for (const listener of this.invalidationListeners) listener(tenantId);
  }

  clear(): void {
    this.epoch++;
    this.positive.clear();
    this.negative.clear();
    this.inFlight.clear();
    for (const listener of this.invalidationListeners) listener(null);
  }

  /**
   * Hears every invalidation: a key (a tenant id, or another payload on the registry channel such as
   * `domain:<d>`), or null when everything was cleared.
   */
  onInvalidate(listener: (key: string | null) => void): void {
    this.invalidationListeners.push(listener);
  }

  /** Whether the LISTEN client is connected (so NOTIFYs reach this process right now). */
  get isListening(): boolean {
    return this.listening;
  }

  /** Sizes, for tests and metrics. */
  stats(): { positive: number; negative: number; listening: boolean; lookups: number } {
    return {
      positive: this.positive.size,
      negative: this.negative.size,
      listening: this.listening,
      lookups: this.lookups,
    };
  }

  /** Starts the LISTEN client (if a URL was given). Never throws: a failure schedules a reconnect. */
  start(): void {
    if (this.options.listenUrl && !this.closed) void this.connect();
  }

  /** Resolves once the listener is connected (tests; startup code that wants fresh caches). */
  whenListening(): Promise<void> {
    if (this.listening) return Promise.resolve();
    return new Promise((resolve) => this.listeningWaiters.push(resolve));
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.listenUrl,
      application_name: 'tenantry-registry-listener',
      // TCP keep-alive from 10 s of silence on, so a half-open connection (network cut, server host gone)
      // is noticed within a minute or so and we reconnect; the OS default first probe comes after 2 hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: LISTEN_KEEPALIVE_DELAY_MS,
      connectionTimeoutMillis: 5_000,
    });
    this.listener = client;
    client.on('notification', (message) => {
      if (message.channel === REGISTRY_CHANNEL && message.payload) this.invalidate(message.payload);
    });
    client.on('error', (error) => this.dropped(client, error));
    client.on('end', () => this.dropped(client, undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${REGISTRY_CHANNEL}`);
    } catch (error) {
      this.dropped(client, error);
      return;
    }
    if (this.closed || this.listener !== client) {
      await client.end().catch(() => {});
      return;
    }
    // Anything cached before now may have missed notifications sent while we were not listening.
    this.clear();
    this.listening = true;
    this.reconnectDelay = this.options.reconnectDelayMs;
    for (const resolve of this.listeningWaiters.splice(0)) resolve();
  }

  private dropped(client: pg.Client, error: unknown): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    this.listening = false;
    client.removeAllListeners('end');
    client.on('error', () => {});
    client.end().catch(() => {});
    if (this.closed) return;
    if (error !== undefined) this.options.onListenerError?.(error);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30_000);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }
}
