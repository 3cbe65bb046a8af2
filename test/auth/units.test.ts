/**
 * Pure pieces of the account machinery: CSV, concurrency limiter, tokens, passwords. (The rate limits
 * live in PostgreSQL now: test/accounts/lockout.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, QueueFullError } from '../../src/auth/concurrency.ts';
import { PasswordHasher, passwordProblem } from '../../src/auth/passwords.ts';
import {
  bearerToken,
  hashToken,
  issueSessionToken,
  issueTenantToken,
  parseTenantToken,
} from '../../src/auth/tokens.ts';
import { CsvSyntaxError, parseCsv, toCsv } from '../../src/routes/users/csv.ts';

describe('csv', () => {
  it('round-trips quoting, delimiters, newlines and defuses formulas', () => {
    const text = toCsv([
      ['a', 'b;c', 'd"e'],
      ['=1+1', 'multi\nline', ''],
    ]);
    expect(text).toBe('\uFEFFa;"b;c";"d""e"\r\n\'=1+1;"multi\nline";\r\n');
    expect(parseCsv(text).map((row) => row.cells)).toEqual([
      ['a', 'b;c', 'd"e'],
      ["'=1+1", 'multi\nline', ''],
    ]);
    expect(parseCsv('x,y\n1,"2,3"\n\n4,5').map((row) => [row.line, ...row.cells])).toEqual([
      [1, 'x', 'y'],
      [2, '1', '2,3'],
      [4, '4', '5'],
    ]);
    expect(() => parseCsv('a;"b\n')).toThrow(CsvSyntaxError);
    expect(() => parseCsv('a;b"c\n')).toThrow(CsvSyntaxError);
  });
});

describe('ConcurrencyLimiter', () => {
  it('runs at most N at once and refuses beyond the queue', async () => {
    const limiter = new ConcurrencyLimiter(2, 1);
    let running = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    const job = () =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
      });
    const jobs = [job(), job(), job()];
    await expect(job()).rejects.toBeInstanceOf(QueueFullError);
    expect(limiter.stats()).toEqual({ running: 2, queued: 1 });
    while (release.length > 0 || running > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(jobs);
    expect(peak).toBe(2);
    expect(limiter.stats()).toEqual({ running: 0, queued: 0 });
  });
});

describe('tokens and passwords', () => {
  it('issues 256-bit tokens and stores only their SHA-256', () => {
    const { token, hash } = issueSessionToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hash.equals(hashToken(token))).toBe(true);
    expect(bearerToken(`Bearer ${token}`)).toBe(token);
    expect(bearerToken(`Bearer ${token} `)).toBe(token);
    expect(bearerToken(`Bearer ${token}=`)).toBeNull();
    const tenantToken = issueTenantToken('acme_1');
    expect(parseTenantToken(tenantToken.token)?.hash.equals(tenantToken.hash)).toBe(true);
    expect(parseTenantToken(`public.${tenantToken.token.split('.')[1]}`)).toBeNull();
    expect(parseTenantToken('acme_1.short')).toBeNull();
  });

  it('hashes with argon2id and applies the rules', async () => {
    const hasher = new PasswordHasher('test');
    const stored = await hasher.hash('a long password');
    expect(stored.startsWith('$argon2id$')).toBe(true);
    expect(await hasher.verify(stored, 'a long password')).toBe(true);
    expect(await hasher.verify(stored, 'wrong')).toBe(false);
    expect(await hasher.verify('not a hash', 'x')).toBe(false);
    expect(await hasher.verifyDummy('x')).toBe(false);
    expect(passwordProblem('short', 'a@b.c')).toMatch(/at least 10/);
    expect(passwordProblem('Someone@Example.com', 'someone@example.com')).toMatch(/e-mail/);
    expect(passwordProblem('fine password', 'a@b.c')).toBeNull();
  });
});
