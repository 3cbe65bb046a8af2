/**
 * Password hashing (argon2id, SPEC 11) and the password rules.
 *
 * Production uses @node-rs/argon2's defaults (argon2id, 19 MiB, 2 passes: ~14 ms per hash here). Under
 * NODE_ENV=test a cheap profile keeps hundreds of hashes fast; it is still argon2id, so the same code
 * paths run. `verify` reads the parameters from the stored hash, so changing the profile never locks
 * anybody out.
 *
 * Hashing is bounded (ConcurrencyLimiter): at most 2 hashes at once (libuv's pool has 4 threads that
 * file and DNS work share) and at most 64 waiting; beyond that → 503 + Retry-After.
 */
import { hash, type Options, verify } from '@node-rs/argon2';
import { problems } from '../http/problem.ts';
import { ConcurrencyLimiter, QueueFullError } from './concurrency.ts';

export const PASSWORD_MIN_LENGTH = 10;
/** argon2 hashes any length, but a megabyte "password" is only a way to burn CPU. */
export const PASSWORD_MAX_LENGTH = 200;

export type HashProfile = 'default' | 'test';

const PROFILES: Record<HashProfile, Options> = {
  default: {},
  // Smallest parameters argon2 allows that still exercise the real algorithm: ~0.1 ms per hash.
  test: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
};

export class PasswordHasher {
  private readonly options: Options;
  private readonly limiter: ConcurrencyLimiter;
  private dummy: Promise<string> | undefined;

  constructor(profile: HashProfile = 'default', limits = { concurrent: 2, queued: 64 }) {
    this.options = PROFILES[profile];
    this.limiter = new ConcurrencyLimiter(limits.concurrent, limits.queued);
  }

  hash(password: string): Promise<string> {
    return this.bounded(() => hash(password, this.options));
  }

  /** False for a wrong password and for a stored hash that cannot be parsed. */
  verify(stored: string, password: string): Promise<boolean> {
    return this.bounded(() => verify(stored, password).catch(() => false));
  }

  /**
   * Spends the time of one verification and returns false. Login calls it when there is no account (or no
   * password yet), so "unknown e-mail" and "wrong password" take about the same time.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= this.hash('tenantry-dummy-password');
    await this.verify(await this.dummy, password);
    return false;
  }

  private async bounded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.limiter.run(work);
    } catch (error) {
      if (error instanceof QueueFullError) throw problems.unavailable('Too many sign-ins at once', 2);
      throw error;
    }
  }
}

/** The rule of SPEC 11 beyond the schema's length bounds: a password must not be the e-mail. */
export function passwordProblem(password: string, email: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) return 'must not be the e-mail address';
  return null;
}

/** Throws 422 with the field path when `password` breaks a rule. */
export function assertPassword(password: string, email: string, field = '/body/password'): void {
  const problem = passwordProblem(password, email);
  if (problem) throw problems.unprocessable(`The password ${problem}`, [{ path: field, message: problem }]);
}
