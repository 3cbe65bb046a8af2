/**
 * Login lockout under attack (issue 14): failures are counted per (e-mail, client address), per address
 * and per e-mail, in PostgreSQL so that every process on the database counts together; a wrong password
 * locks only its pair; TRUST_PROXY decides which address is the client's.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { rateLimitAddress } from '../../src/auth/client-address.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import {
  type AccountsApp,
  accountsApp,
  type Owner,
  PASSWORD,
  randomIp,
  signUp,
  uniqueEmail,
} from './helpers.ts';

let context: AccountsApp;
let app: App;
let owner: Owner;
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  context = await accountsApp({ database });
  app = context.app;
  owner = await signUp(context, { company_name: 'Lockout' });
});

const attempt = (
  target: App,
  email: string,
  password: string,
  remoteAddress: string,
  headers: Record<string, string> = {},
) =>
  target.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    remoteAddress,
    headers,
  });

describe('login lockout', () => {
  it('locks only the (e-mail, address) pair: the owner still signs in from another address', async () => {
    const attacker = randomIp();
    for (let i = 0; i < 10; i++) {
      expect((await attempt(app, owner.email, `wrong password ${i}`, attacker)).statusCode).toBe(401);
    }
    const locked = await attempt(app, owner.email, PASSWORD, attacker);
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    expect(locked.headers['content-type']).toContain('application/problem+json');

    // Issue 14: the old per-e-mail lock answered 429 here — anyone could lock anyone out.
    expect((await attempt(app, owner.email, PASSWORD, randomIp())).statusCode).toBe(200);
    // The attacker's address may still try other accounts (only the pair is locked).
    expect((await attempt(app, uniqueEmail('other'), 'whatever-1', attacker)).statusCode).toBe(401);
  });

  it('a successful sign-in takes its attempt back and forgets the pair', async () => {
    const someone = await signUp(context, { company_name: 'Forgetful' });
    const ip = randomIp();
    for (let i = 0; i < 9; i++) await attempt(app, someone.email, 'wrong password', ip);
    expect((await attempt(app, someone.email, PASSWORD, ip)).statusCode).toBe(200);
    for (let i = 0; i < 10; i++) {
      expect((await attempt(app, someone.email, 'wrong password', ip)).statusCode).toBe(401);
    }
    expect((await attempt(app, someone.email, 'wrong password', ip)).statusCode).toBe(429);
  });

  it('keeps a slower global per-e-mail limit against guessing from many addresses', async () => {
    const saved = app.accounts.limits.loginPerEmail;
    app.accounts.limits.loginPerEmail = { limit: 5, windowSeconds: 3600 };
    try {
      const target = uniqueEmail('distributed');
      for (let i = 0; i < 5; i++)
        expect((await attempt(app, target, 'guess-guess', randomIp())).statusCode).toBe(401);
      const refused = await attempt(app, target, 'guess-guess', randomIp());
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
      expect((await attempt(app, uniqueEmail('unrelated'), 'guess-guess', randomIp())).statusCode).toBe(401);
    } finally {
      app.accounts.limits.loginPerEmail = saved;
    }
  });

  it('30 concurrent wrong passwords on one pair: exactly the budget is verified, the rest 429, no 5xx', async () => {
    const ip = randomIp();
    const email = uniqueEmail('burst');
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => attempt(app, email, 'wrong password', ip)),
    );
    const codes = answers.map((answer) => answer.statusCode).sort();
    expect(codes.filter((code) => code === 401)).toHaveLength(10);
    expect(codes.filter((code) => code === 429)).toHaveLength(20);
  });

  it('counts are shared by two app instances (two processes) on one database', async () => {
    const second = await accountsApp({ database });
    expect(second.app.core.hosts).not.toBe(app.core.hosts);
    const ip = randomIp();
    const email = uniqueEmail('shared');
    for (let i = 0; i < 10; i++) {
      const instance = i % 2 === 0 ? app : second.app;
      expect((await attempt(instance, email, 'wrong password', ip)).statusCode).toBe(401);
    }
    // With counts per process each instance had seen only 5 failures and answered 401 here.
    expect((await attempt(app, email, 'wrong password', ip)).statusCode).toBe(429);
    expect((await attempt(second.app, email, 'wrong password', ip)).statusCode).toBe(429);
  });
});

describe('IPv6 clients are counted per /64', () => {
  it('the addresses of one /64 share one pair budget; another /64 does not', async () => {
    const prefix = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
    for (let i = 0; i < 10; i++) {
      // A client rotating its interface id on every try (privacy extensions, or on purpose).
      const answer = await attempt(
        app,
        owner.email,
        `wrong ${i}`,
        `${prefix}:${randomBytes(2).toString('hex')}::${i + 1}`,
      );
      expect(answer.statusCode).toBe(401);
    }
    expect((await attempt(app, owner.email, PASSWORD, `${prefix}::abcd`)).statusCode).toBe(429);
    expect(
      (await attempt(app, owner.email, PASSWORD, `2001:db8:ffff:${randomBytes(2).toString('hex')}::1`))
        .statusCode,
    ).toBe(200);
  });

  it('rateLimitAddress: /64 for IPv6, the IPv4 address for IPv4 and IPv4-mapped IPv6', () => {
    expect(rateLimitAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitAddress('::ffff:cb00:7107')).toBe('203.0.113.7');
    expect(rateLimitAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(rateLimitAddress('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(rateLimitAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(rateLimitAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(rateLimitAddress('::1')).toBe('0:0:0:0::/64');
  });
});

describe('TRUST_PROXY', () => {
  it('behind one proxy hop, clients are told apart by X-Forwarded-For; without it they share the proxy', async () => {
    const behindProxy = await accountsApp({ database, env: { TRUST_PROXY: '1' } });
    const proxy = randomIp();
    const email = owner.email;
    const [victim, attacker] = [randomIp(), randomIp()];
    for (let i = 0; i < 10; i++) {
      const answer = await attempt(behindProxy.app, email, 'wrong password', proxy, {
        'x-forwarded-for': attacker,
      });
      expect(answer.statusCode).toBe(401);
    }
    const locked = await attempt(behindProxy.app, email, PASSWORD, proxy, { 'x-forwarded-for': attacker });
    expect(locked.statusCode).toBe(429);
    const fine = await attempt(behindProxy.app, email, PASSWORD, proxy, { 'x-forwarded-for': victim });
    expect(fine.statusCode).toBe(200);
    // A client cannot pick its address by prepending entries: only the nearest hop is trusted.
    const spoofed = await attempt(behindProxy.app, email, PASSWORD, proxy, {
      'x-forwarded-for': `${victim}, ${attacker}`,
    });
    expect(spoofed.statusCode).toBe(429);

    // Off (the default): the header is ignored and every client behind the proxy is the proxy.
    const direct = randomIp();
    for (let i = 0; i < 10; i++) {
      await attempt(app, email, 'wrong password', direct, { 'x-forwarded-for': attacker });
    }
    const shared = await attempt(app, email, PASSWORD, direct, { 'x-forwarded-for': victim });
    expect(shared.statusCode).toBe(429);
  });
});
