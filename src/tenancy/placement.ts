/**
 * Where a new tenant goes (issue 17, TENANT_PLACEMENT): the default host, or the reachable host with the
 * fewest tenants (`least-tenants`) or the smallest tenant schemas (`least-size`). A host named by the
 * caller (`host` of POST /cc/tenants, `--db-host`, `db_host=`) always wins and never gets here.
 *
 * Concurrency: the choice and the registry row it leads to must be seen together, or twenty creations at
 * once would all count the same tenants and pick the same host. So one creation at a time per process
 * (a promise chain) and across processes (a session advisory lock on the default host, key
 * `hashtextextended('tenantry.placement', 0)`) holds "the placement turn" from counting until its
 * registry row is committed: for the default host that is the end of the creation's one transaction,
 * for another host the `provisioning` row written first (src/tenancy/tenant-service.ts). Only creations
 * without a named host under a non-default policy take the turn; the lock is a session lock on its own
 * connection, so a killed process releases it with its connection.
 */
import type pg from 'pg';
import type { DatabaseHosts } from '../db/hosts.ts';
import { DEFAULT_HOST } from '../db/hosts.ts';
import type { HostMigrations } from './host-migrations.ts';
import { type HostStats, hostStats } from './host-stats.ts';

export const PLACEMENT_POLICIES = ['default', 'least-tenants', 'least-size'] as const;
export type PlacementPolicy = (typeof PLACEMENT_POLICIES)[number];

export interface PlacementChoice {
  host: string;
  /** `named`: the caller chose the host. */
  policy: PlacementPolicy | 'named';
  /** Hosts left out because they did not answer, with the driver's reason. */
  skipped: Array<{ host: string; reason: string }>;
}

/** Every host is unreachable: nowhere to put a tenant (503 + Retry-After over HTTP). */
export class NoHostAvailableError extends Error {
  override name = 'NoHostAvailableError';
  constructor(readonly skipped: PlacementChoice['skipped']) {
    super(
      `no database host can take a new tenant: ${skipped.map((s) => `${s.host} (${s.reason})`).join('; ')}`,
    );
  }
}

/** Longest wait for the placement turn (other creations placing); then 55P03 → 503 + Retry-After. */
const TURN_WAIT = '30s';
const LOCK_KEY = "hashtextextended('tenantry.placement', 0)";

/** The host a policy picks among measured hosts, or undefined when none is reachable. */
export function pickHost(policy: PlacementPolicy, stats: HostStats[]): string | undefined {
  const reachable = stats.filter((s) => s.reachable);
  const size = (s: HostStats) => s.tenant_bytes ?? Number.POSITIVE_INFINITY;
  // Stable sort keeps the configured order (default first) among equals.
  const ranked = [...reachable].sort((a, b) =>
    policy === 'least-size' ? size(a) - size(b) || a.tenants - b.tenants : a.tenants - b.tenants,
  );
  return ranked[0]?.host;
}

export class Placement {
  private turn: Promise<void> = Promise.resolve();

  constructor(
    readonly policy: PlacementPolicy,
    private readonly deps: { hosts: DatabaseHosts; hostMigrations: HostMigrations },
  ) {}

  /** Measures the hosts and picks one (no lock: `place` calls it holding the turn). */
  async choose(): Promise<PlacementChoice> {
    if (this.policy === 'default') return { host: DEFAULT_HOST, policy: 'default', skipped: [] };
    const stats = await hostStats(this.deps, { sizes: this.policy === 'least-size' });
    const skipped = stats.filter((s) => !s.reachable).map((s) => ({ host: s.host, reason: s.error ?? '' }));
    const host = pickHost(this.policy, stats);
    if (host === undefined) throw new NoHostAvailableError(skipped);
    return { host, policy: this.policy, skipped };
  }

  /**
   * Runs `work` on the chosen host holding the placement turn until `work` calls `registered()` (its
   * registry row is committed) or settles, whichever comes first.
   */
  async place<T>(work: (choice: PlacementChoice, registered: () => Promise<void>) => Promise<T>): Promise<T> {
    let leaveLocal: () => void = () => {};
    const previous = this.turn;
    this.turn = new Promise<void>((resolve) => {
      leaveLocal = resolve;
    });
    await previous;
    let client: pg.PoolClient | undefined;
    let left = false;
    const leave = async () => {
      if (left) return;
      left = true;
      try {
        await client?.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`);
        client?.release();
      } catch (error) {
        // A broken connection releases the lock with it; never return it to the pool.
        client?.release(error instanceof Error ? error : true);
      } finally {
        leaveLocal();
      }
    };
    try {
      client = await this.deps.hosts.pool(DEFAULT_HOST).connect();
      // A session lock taken inside a transaction outlives its COMMIT; lock_timeout bounds the wait.
      await client.query(
        `BEGIN; SET LOCAL lock_timeout = '${TURN_WAIT}'; SELECT pg_advisory_lock(${LOCK_KEY}); COMMIT`,
      );
      const choice = await this.choose();
      return await work(choice, leave);
    } catch (error) {
      await client?.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      await leave();
    }
  }
}
