/**
 * The principal of a session (user, role, permissions) kept in memory, so an authenticated request sends
 * only its own statement instead of one more to authenticate (issue 15).
 *
 * Why a stale principal cannot outlive a revocation: tenant revision 3b8d51c0e6a4 NOTIFYs the registry
 * channel at the commit of every change that alters a principal (logout, logout-all, password reset,
 * user deletion or deactivation, profile, role or permission changes — any code path, even plain SQL),
 * and the registry cache's LISTEN client (one per process) hands every payload to `invalidate`. Hence:
 *  - entries are served only while that listener is connected; while it is down, every request reads
 *    the database (and its reconnect clears everything, as notifications may have been missed);
 *  - a lookup that began before an invalidation does not store what it read (the epoch);
 *  - only tenants of the host the listener watches (NOTIFY is per database) are cached;
 *  - the TTL (PRINCIPAL_CACHE_TTL_MS) and size (PRINCIPAL_CACHE_MAX, oldest first) only bound memory
 *    and the worst case of a bug; a cached entry also never outlives its session's `expires_at`.
 *
 * `last_seen_at` is refreshed at most every TOUCH_AFTER_MS per session, in batches: requests only mark
 * sessions as seen; a timer writes each schema's marks in one UPDATE. An in-process timer rather than a
 * job: the marks are this process's memory, and losing them on a crash only loses minutes of "last seen".
 *
 * Keys name the credential kind and its hash (`s:` sessions), so a principal of another credential
 * (an API token, by its hash) can be cached beside them later.
 */
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import { type DatabaseHosts, DEFAULT_HOST, setBounded } from '../db/hosts.ts';
import type { RegistryCache } from '../tenancy/registry-cache.ts';
import type { Principal } from './principal.ts';
import { SessionRepository } from './session-repository.ts';
import { accountDb } from './tables.ts';
import { hashToken } from './tokens.ts';

/** Prefix of this cache's payloads on the registry channel (tenant revision 3b8d51c0e6a4). */
export const PRINCIPAL_NOTIFY_PREFIX = 'principal:';

/** `last_seen_at` is refreshed at most this often per session (a busy client does not write per request). */
export const TOUCH_AFTER_MS = 5 * 60_000;

/** How often the marked sessions' `last_seen_at` is written. */
const TOUCH_FLUSH_MS = 10_000;

export interface PrincipalCacheOptions {
  /** Most principals kept (0: none, every request reads the database). */
  maxEntries: number;
  ttlMs: number;
  /** How often seen sessions are written (default 10 s; tests shorten it). */
  touchFlushMs?: number;
}

/** Where a request authenticates: the tenant's id, host and schema, and its schema-bound handle. */
export interface PrincipalScope {
  id: string;
  host: string;
  schema: string;
  db: Parameters<typeof accountDb>[0];
}

interface Entry {
  principal: Principal;
  tenantId: string;
  schema: string;
  storedAt: number;
  /** When `last_seen_at` was last written (or marked to be). */
  lastSeenAt: number;
}

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a lookup that began before one must not store its (maybe stale) row. */
  private epoch = 0;
  /** Sessions to mark as seen, by `host\0schema`. */
  private pendingTouches = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  /** Principals read from the database (tests assert hits spare it). */
  loads = 0;

  constructor(
    private readonly registryCache: RegistryCache,
    private readonly hosts: DatabaseHosts,
    private readonly options: PrincipalCacheOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    registryCache.onInvalidate((key) => this.invalidate(key));
  }

  /** The principal of a bearer token in this tenant, or undefined (→ 401). */
  async authenticate(tenant: PrincipalScope, token: string): Promise<Principal | undefined> {
    const hash = hashToken(token);
    const key = `${tenant.host}\0${tenant.schema}\0s:${hash.toString('base64')}`;
    const now = Date.now();
    const cacheable =
      this.options.maxEntries > 0 && tenant.host === DEFAULT_HOST && this.registryCache.isListening;
    const hit = cacheable ? this.entries.get(key) : undefined;
    if (hit) {
      if (now - hit.storedAt < this.options.ttlMs && hit.principal.session.expires_at.getTime() > now) {
        this.seen(tenant, hit, now);
        return hit.principal;
      }
      this.entries.delete(key);
    }
    const epoch = this.epoch;
    this.loads++;
    const found = await new SessionRepository(accountDb(tenant.db)).findByToken(hash);
    if (!found) return undefined;
    const { lastSeenAt, ...principal } = found;
    const entry: Entry = {
      principal,
      tenantId: tenant.id,
      schema: tenant.schema,
      storedAt: now,
      lastSeenAt: lastSeenAt.getTime(),
    };
    if (cacheable && epoch === this.epoch && this.registryCache.isListening)
      setBounded(this.entries, key, entry, this.options.maxEntries);
    this.seen(tenant, entry, now);
    return principal;
  }

  /**
   * A payload of the registry channel: `principal:<schema>[:<user id>]`, a tenant id (the registry row
   * changed: moved, deleted, restored), another cache's key (ignored), or null (everything).
   */
  invalidate(key: string | null): void {
    this.epoch++;
    if (key === null) {
      this.entries.clear();
      return;
    }
    let drop: (entry: Entry) => boolean;
    if (key.startsWith(PRINCIPAL_NOTIFY_PREFIX)) {
      const [schema, userId] = key.slice(PRINCIPAL_NOTIFY_PREFIX.length).split(':');
      drop = (entry) =>
        entry.schema === schema && (userId === undefined || entry.principal.user.id === userId);
    } else {
      drop = (entry) => entry.tenantId === key || entry.schema === key;
    }
    // A scan: invalidations are rare next to lookups, and the map is bounded.
    for (const [entryKey, entry] of this.entries) if (drop(entry)) this.entries.delete(entryKey);
  }

  private seen(tenant: PrincipalScope, entry: Entry, now: number): void {
    if (now - entry.lastSeenAt < TOUCH_AFTER_MS) return;
    entry.lastSeenAt = now;
    const target = `${tenant.host}\0${tenant.schema}`;
    let sessions = this.pendingTouches.get(target);
    if (!sessions) {
      sessions = new Set();
      this.pendingTouches.set(target, sessions);
    }
    sessions.add(entry.principal.session.id);
  }

  /** Writes the marked sessions' `last_seen_at`: one UPDATE per schema. Never throws. */
  async flush(): Promise<void> {
    const pending = this.pendingTouches;
    this.pendingTouches = new Map();
    for (const [target, sessions] of pending) {
      const [host = DEFAULT_HOST, schema = ''] = target.split('\0');
      try {
        await accountDb(this.hosts.db(host).withSchema(schema))
          .updateTable('sessions')
          .set({ last_seen_at: sql`now()` })
          .where('id', '=', sql<string>`ANY(${[...sessions]}::bigint[])`)
          .execute();
      } catch (error) {
        // The schema may be gone (tenant deleted) or the database away: "last seen" is best effort.
        this.log.warn({ err: error, schema }, 'could not refresh last_seen_at');
      }
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.options.touchFlushMs ?? TOUCH_FLUSH_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  stats(): { entries: number; loads: number } {
    return { entries: this.entries.size, loads: this.loads };
  }
}
