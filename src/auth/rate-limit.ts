/**
 * Fixed-window rate limits of the account endpoints that attract abuse (SPEC 4; issue 14): sign-up,
 * login, password reset, one-time links, verification e-mails.
 *
 * The counts live in PostgreSQL (`public.rate_limits`, an UNLOGGED table on the default host), so every
 * worker process and every server on the database counts together: with WEB_CONCURRENCY=N a client gets
 * the stated budget, not N× it (issue 14 found the in-memory counts multiplied by the worker count).
 * One statement per request counts every key at once; expired windows are deleted by `prune`, which the
 * account clean-up timer calls (src/auth/account-cleanup.ts).
 */
import { type Kysely, sql } from 'kysely';
import { problems } from '../http/problem.ts';

export interface RateRule {
  /** Requests allowed per window. */
  limit: number;
  windowSeconds: number;
}

export type RateCheck = [key: string, rule: RateRule];

/** A counted key is cut here: e-mails are at most 254 characters, addresses 45 (the table allows 400). */
const MAX_KEY_LENGTH = 380;

export class RateLimiter {
  // biome-ignore lint/suspicious/noExplicitAny: the table is reached through raw SQL only.
  constructor(private readonly db: Kysely<any>) {}

  /**
   * Counts one request under every (key, rule) and answers the seconds to wait for the longest exceeded
   * window (0 when none is exceeded). A refused request counts too, so hammering keeps the door shut.
   * Keys are counted in sorted order: two requests sharing keys lock the rows in the same order and
   * cannot deadlock.
   */
  async hit(checks: RateCheck[]): Promise<number> {
    const rules = new Map<string, RateRule>();
    for (const [key, rule] of checks) rules.set(key.slice(0, MAX_KEY_LENGTH), rule);
    const keys = [...rules.keys()].sort();
    if (keys.length === 0) return 0;
    const seconds = keys.map((key) => rules.get(key)!.windowSeconds);
    const { rows } = await sql<{ key: string; hits: number; wait: number }>`
      INSERT INTO public.rate_limits AS r (key, hits, window_ends_at)
      SELECT t.key, 1, now() + make_interval(secs => t.seconds)
        FROM unnest(${keys}::text[], ${seconds}::int[]) WITH ORDINALITY AS t(key, seconds, n)
       ORDER BY t.n
      ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN r.window_ends_at <= now() THEN 1 ELSE least(r.hits + 1, 1000000000) END,
        window_ends_at = CASE WHEN r.window_ends_at <= now() THEN excluded.window_ends_at
                              ELSE r.window_ends_at END
      RETURNING r.key, r.hits, ceil(extract(epoch FROM r.window_ends_at - now()))::int AS wait`.execute(
      this.db,
    );
    let wait = 0;
    for (const row of rows) {
      if (row.hits > rules.get(row.key)!.limit) wait = Math.max(wait, row.wait, 1);
    }
    return wait;
  }

  /** `hit`, then 429 + Retry-After (the longest wait) if any window is exceeded. */
  async consume(checks: RateCheck[]): Promise<void> {
    const wait = await this.hit(checks);
    if (wait > 0) throw problems.rateLimited(wait);
  }

  /**
   * Takes back one counted request of each key (it turned out not to be a failure), and forgets the
   * keys in `forget` entirely (a correct password clears its (e-mail, address) pair).
   */
  async refund(keys: string[], forget: string[] = []): Promise<void> {
    const cut = (list: string[]) => list.map((key) => key.slice(0, MAX_KEY_LENGTH));
    await sql`
      UPDATE public.rate_limits
         SET hits = CASE WHEN key = ANY(${cut(forget)}::text[]) THEN 0 ELSE greatest(hits - 1, 0) END
       WHERE key IN (SELECT key FROM public.rate_limits WHERE key = ANY(${cut(keys)}::text[])
                      ORDER BY key FOR UPDATE)`.execute(this.db);
  }

  /** Deletes windows that have ended; answers how many. */
  async prune(): Promise<number> {
    const result = await sql`DELETE FROM public.rate_limits WHERE window_ends_at <= now()`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }
}

/** The budgets, shared by every process on the database. Tests pass their own through `app.accounts.limits`. */
export interface AccountRateLimits {
  registerPerIp: RateRule;
  registerPerEmail: RateRule;
  /** Failed logins of one e-mail from one client address: only this pair is locked. */
  loginPerEmailAndIp: RateRule;
  /** Failed logins from one client address, whatever the e-mail (spraying many accounts). */
  loginPerIp: RateRule;
  /**
   * Failed logins of one e-mail from every address together (distributed guessing). Set well above what
   * one address can reach in the window (loginPerEmailAndIp: 40 an hour), so one attacker address can
   * never lock the owner out; it takes five or more.
   */
  loginPerEmail: RateRule;
  resetPerIp: RateRule;
  resetPerEmail: RateRule;
  /** Verification e-mails sent again (`POST /auth/verify-email/resend`). */
  resendPerIp: RateRule;
  resendPerEmail: RateRule;
  /** verify-email, accept-invite, password-reset/confirm: guessing a 256-bit token is hopeless anyway. */
  tokenPerIp: RateRule;
}

export const DEFAULT_RATE_LIMITS: AccountRateLimits = {
  registerPerIp: { limit: 10, windowSeconds: 3600 },
  registerPerEmail: { limit: 3, windowSeconds: 3600 },
  loginPerEmailAndIp: { limit: 10, windowSeconds: 900 },
  loginPerIp: { limit: 60, windowSeconds: 900 },
  loginPerEmail: { limit: 200, windowSeconds: 3600 },
  resetPerIp: { limit: 10, windowSeconds: 3600 },
  resetPerEmail: { limit: 3, windowSeconds: 3600 },
  resendPerIp: { limit: 10, windowSeconds: 3600 },
  resendPerEmail: { limit: 3, windowSeconds: 3600 },
  tokenPerIp: { limit: 30, windowSeconds: 300 },
};
