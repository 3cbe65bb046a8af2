/**
 * In-memory fixed-window rate limits for the account endpoints that attract abuse (SPEC 4: register,
 * login, password reset — per IP and per e-mail).
 *
 * In memory on purpose: it needs no extra service and costs a Map lookup. The price, documented in
 * docs/accounts.md: each process counts on its own (with WEB_CONCURRENCY=N a client gets up to N× the
 * budget) and a restart forgets the counts. A shared store (PostgreSQL or Redis) can replace `RateLimiter`
 * behind the same `consume` call if that ever matters.
 */
import { problems } from '../http/problem.ts';

export interface RateRule {
  /** Requests allowed per window. */
  limit: number;
  windowSeconds: number;
}

interface Window {
  count: number;
  resetAt: number;
}

/** Keys are kept at most this many; the oldest windows are dropped first (memory stays bounded). */
const MAX_KEYS = 100_000;

export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Counts one request for `key` under `rule`; returns the seconds to wait when over the limit, else 0.
   * A refused request still counts, so hammering does not reopen the window early.
   */
  hit(key: string, rule: RateRule): number {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + rule.windowSeconds * 1000 };
      this.windows.delete(key);
      this.windows.set(key, window);
      this.prune();
    }
    window.count++;
    return window.count > rule.limit ? Math.max(1, Math.ceil((window.resetAt - now) / 1000)) : 0;
  }

  /**
   * Counts the request under every (key, rule) pair and throws 429 + Retry-After (the longest wait) if
   * any is exceeded. All pairs are counted, so per-IP and per-e-mail budgets both shrink.
   */
  consume(checks: Array<[key: string, rule: RateRule]>): void {
    let wait = 0;
    for (const [key, rule] of checks) wait = Math.max(wait, this.hit(key, rule));
    if (wait > 0) throw problems.rateLimited(wait);
  }

  private prune(): void {
    if (this.windows.size <= MAX_KEYS) return;
    // Map iteration follows insertion order and windows are re-inserted when they restart, so the first
    // keys are the oldest windows (mostly expired ones).
    for (const key of this.windows.keys()) {
      if (this.windows.size <= MAX_KEYS * 0.9) break;
      this.windows.delete(key);
    }
  }
}

/** The budgets (per process). Tests pass their own through AuthOptions. */
export interface AccountRateLimits {
  registerPerIp: RateRule;
  registerPerEmail: RateRule;
  loginPerIp: RateRule;
  loginPerEmail: RateRule;
  resetPerIp: RateRule;
  resetPerEmail: RateRule;
  /** verify-email, accept-invite, password-reset/confirm: guessing a 256-bit token is hopeless anyway. */
  tokenPerIp: RateRule;
}

export const DEFAULT_RATE_LIMITS: AccountRateLimits = {
  registerPerIp: { limit: 10, windowSeconds: 3600 },
  registerPerEmail: { limit: 3, windowSeconds: 3600 },
  loginPerIp: { limit: 60, windowSeconds: 300 },
  loginPerEmail: { limit: 10, windowSeconds: 300 },
  resetPerIp: { limit: 10, windowSeconds: 3600 },
  resetPerEmail: { limit: 3, windowSeconds: 3600 },
  tokenPerIp: { limit: 30, windowSeconds: 300 },
};
