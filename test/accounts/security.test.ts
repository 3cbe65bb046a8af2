/**
 * Cross-tenant isolation, token lifecycles and rate limits (SPEC 11, issue 5 "must show").
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.ts';
import { hashToken } from '../../src/auth/tokens.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import {
  type AccountsApp,
  accountsApp,
  linkToken,
  login,
  mailTo,
  type Owner,
  PASSWORD,
  randomIp,
  registerBody,
  signUp,
  uniqueEmail,
} from './helpers.ts';

let context: AccountsApp;
let app: App;
let a: Owner;
let b: Owner;
beforeAll(async () => {
  context = await accountsApp();
  app = context.app;
  a = await signUp(context, { company_name: 'Alpha' });
  b = await signUp(context, { company_name: 'Beta' });
});

const tenantDb = (tenant: string) => app.core.hosts.db(DEFAULT_HOST).withSchema(tenant);

describe('cross-tenant isolation', () => {
  it('a token of tenant A with header tenant: B is 401', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { tenant: b.tenant, authorization: a.headers.authorization! },
    });
    expect(response.statusCode).toBe(401);
    const users = await app.inject({
      method: 'GET',
      url: '/users/',
      headers: { ...a.headers, tenant: b.tenant },
    });
    expect(users.statusCode).toBe(401);
  });

  it("B's ids through A are 404, on every id route", async () => {
    const group = await app.inject({
      method: 'POST',
      url: '/groups/',
      headers: b.headers,
      payload: { name: 'B team', member_uuids: [b.uuid] },
    });
    expect(group.statusCode, group.body).toBe(201);
    const roles = (await app.inject({ method: 'GET', url: '/roles/', headers: b.headers })).json().items;
    const bRole = roles.find((role: { name: string }) => role.name === 'MEMBER').uuid;
    const probes: Array<[method: 'GET' | 'PATCH' | 'DELETE', url: string, payload?: object]> = [
      ['GET', `/users/${b.uuid}`],
      ['PATCH', `/users/${b.uuid}`, { first_name: 'X' }],
      ['DELETE', `/users/${b.uuid}`],
      ['GET', `/groups/${group.json().uuid}`],
      ['PATCH', `/groups/${group.json().uuid}`, { name: 'X' }],
      ['DELETE', `/groups/${group.json().uuid}`],
      ['GET', `/roles/${bRole}`],
    ];
    for (const [method, url, payload] of probes) {
      const response = await app.inject({ method, url, headers: a.headers, ...(payload ? { payload } : {}) });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
    }
    // B's user can be named as a group member or role only in B.
    const foreignMember = await app.inject({
      method: 'POST',
      url: '/groups/',
      headers: a.headers,
      payload: { name: 'A team', member_uuids: [b.uuid] },
    });
    expect(foreignMember.statusCode).toBe(422);
    const foreignRole = await app.inject({
      method: 'POST',
      url: '/users/',
      headers: a.headers,
      payload: { email: uniqueEmail(), first_name: 'X', last_name: 'Y', role_uuid: bRole },
    });
    expect(foreignRole.statusCode).toBe(422);
    expect(
      (await app.inject({ method: 'GET', url: `/users/${b.uuid}`, headers: b.headers })).statusCode,
    ).toBe(200);
  });

  it('an e-mail used in another tenant is 409 (create, patch, register)', async () => {
    const create = await app.inject({
      method: 'POST',
      url: '/users/',
      headers: a.headers,
      payload: { email: b.email, first_name: 'X', last_name: 'Y', password: 'a-long-password' },
    });
    expect(create.statusCode).toBe(409);
    const mine = await app.inject({
      method: 'POST',
      url: '/users/',
      headers: a.headers,
      payload: { email: uniqueEmail(), first_name: 'X', last_name: 'Y', password: 'a-long-password' },
    });
    const patch = await app.inject({
      method: 'PATCH',
      url: `/users/${mine.json().uuid}`,
      headers: a.headers,
      payload: { email: b.email.toUpperCase() },
    });
    expect(patch.statusCode).toBe(409);
    const register = await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: registerBody({ email: b.email }),
      remoteAddress: randomIp(),
    });
    expect(register.statusCode).toBe(409);
    expect(register.headers['content-type']).toContain('application/problem+json');
  });

  it('an e-mail change moves the directory entry: login uses the new address', async () => {
    const old = uniqueEmail('mover');
    const created = await app.inject({
      method: 'POST',
      url: '/users/',
      headers: a.headers,
      payload: { email: old, first_name: 'M', last_name: 'V', password: 'mover-password' },
    });
    const fresh = uniqueEmail('moved');
    const patched = await app.inject({
      method: 'PATCH',
      url: `/users/${created.json().uuid}`,
      headers: a.headers,
      payload: { email: fresh },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(await app.accounts.directory.repository().find(old)).toBeUndefined();
    expect(await app.accounts.directory.repository().find(fresh)).toMatchObject({ tenant_id: a.tenant });
    await login(app, fresh, 'mover-password');
  });
});

describe('bearer tokens', () => {
  it('malformed, unknown, expired and revoked tokens are 401', async () => {
    for (const authorization of [
      '',
      'Bearer',
      'Bearer x',
      `Basic ${a.token}`,
      `Bearer ${a.token}x`,
      `Bearer ${'A'.repeat(43)}`,
      "Bearer ' OR 1=1 --",
    ]) {
      const response = await app.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { tenant: a.tenant, authorization },
      });
      expect(response.statusCode, authorization).toBe(401);
    }
    const session = await login(app, a.email);
    const token = session.authorization!.slice(7);
    await sql`UPDATE ${sql.table(`${a.tenant}.sessions`)} SET expires_at = now() - interval '1 second' WHERE token_hash = ${hashToken(token)}`.execute(
      app.core.hosts.db(DEFAULT_HOST),
    );
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: session })).statusCode).toBe(401);

    const other = await login(app, a.email);
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: other })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: other })).statusCode).toBe(401);
  });

  it('logout-all, password reset and user deletion revoke every session', async () => {
    const email = uniqueEmail('victim');
    const created = await app.inject({
      method: 'POST',
      url: '/users/',
      headers: a.headers,
      payload: { email, first_name: 'V', last_name: 'W', password: 'victim-password' },
    });
    const one = await login(app, email, 'victim-password');
    const two = await login(app, email, 'victim-password');
    const all = await app.inject({ method: 'POST', url: '/auth/logout-all', headers: one });
    expect(all.json()).toEqual({ revoked: 2 });
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: two })).statusCode).toBe(401);

    const three = await login(app, email, 'victim-password');
    const reset = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      payload: { email },
      remoteAddress: randomIp(),
    });
    expect(reset.statusCode).toBe(202);
    const token = linkToken((await mailTo(context.outbox, email, /Reset/)).text, 'reset-password');
    const confirm = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token, password: 'new-victim-password' },
    });
    expect(confirm.statusCode, confirm.body).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: three })).statusCode).toBe(401);
    const four = await login(app, email, 'new-victim-password');

    const deleted = await app.inject({
      method: 'DELETE',
      url: `/users/${created.json().uuid}`,
      headers: a.headers,
    });
    expect(deleted.statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: four })).statusCode).toBe(401);
    const again = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: 'new-victim-password' },
      remoteAddress: randomIp(),
    });
    expect(again.statusCode).toBe(401);
  });
});

describe('one-time tokens', () => {
  it('reset tokens are single-use and expire; a rejected password keeps the token usable', async () => {
    await app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      payload: { email: b.email },
      remoteAddress: randomIp(),
    });
    const token = linkToken((await mailTo(context.outbox, b.email, /Reset/)).text, 'reset-password');
    const weak = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token, password: b.email },
    });
    expect(weak.statusCode).toBe(422);
    const ok = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token, password: 'beta-new-password' },
    });
    expect(ok.statusCode).toBe(204);
    const reused = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token, password: 'beta-other-password' },
    });
    expect(reused.statusCode).toBe(400);
    await login(app, b.email, 'beta-new-password');

    await app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      payload: { email: b.email },
      remoteAddress: randomIp(),
    });
    // The e-mail is a job sent after the request's commit (src/jobs/mail-jobs.ts): wait for the new one.
    let expiring = token;
    await vi.waitFor(
      async () => {
        expiring = linkToken((await mailTo(context.outbox, b.email, /Reset/)).text, 'reset-password');
        expect(expiring).not.toBe(token);
      },
      { timeout: 10_000, interval: 50 },
    );
    await tenantDb(b.tenant)
      .updateTable('user_tokens')
      .set({ expires_at: sql`now() - interval '1 second'` })
      .where('token_hash', '=', hashToken(expiring.split('.')[1]!))
      .execute();
    const expired = await app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token: expiring, password: 'beta-third-password' },
    });
    expect(expired.statusCode).toBe(400);
  });

  it('verification tokens are single-use and expire; forged and foreign ones fail', async () => {
    const body = registerBody({ company_name: 'Gamma' });
    await app.inject({ method: 'POST', url: '/auth/register', payload: body, remoteAddress: randomIp() });
    const token = linkToken((await mailTo(context.outbox, body.email, /Confirm/)).text, 'verify-email');
    const [tenant, secret] = token.split('.') as [string, string];
    for (const forged of [
      `${a.tenant}.${secret}`,
      `${tenant}.${'A'.repeat(43)}`,
      `nosuchtenant.${secret}`,
      `${tenant}.${secret}`.replace(/.$/, '!'),
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token: forged },
      });
      expect(response.statusCode, forged).toBe(400);
    }
    expect(
      (await app.inject({ method: 'POST', url: '/auth/verify-email', payload: { token } })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: '/auth/verify-email', payload: { token } })).statusCode,
    ).toBe(400);

    const other = registerBody({ company_name: 'Delta' });
    await app.inject({ method: 'POST', url: '/auth/register', payload: other, remoteAddress: randomIp() });
    const late = linkToken((await mailTo(context.outbox, other.email, /Confirm/)).text, 'verify-email');
    await tenantDb(late.split('.')[0]!)
      .updateTable('user_tokens')
      .set({ expires_at: sql`now() - interval '1 second'` })
      .execute();
    expect(
      (await app.inject({ method: 'POST', url: '/auth/verify-email', payload: { token: late } })).statusCode,
    ).toBe(400);
  });
});

describe('login', () => {
  it('unknown e-mail and wrong password answer the same, in about the same time', async () => {
    const unknown = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: uniqueEmail('nobody'), password: PASSWORD },
      remoteAddress: randomIp(),
    });
    const wrong = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: a.email, password: 'not the password' },
      remoteAddress: randomIp(),
    });
    expect(unknown.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.json().detail).toBe(wrong.json().detail);
    // Both spend one argon2 verification (a spy proves it without timing flakiness).
    let verifications = 0;
    const original = app.accounts.hasher.verify.bind(app.accounts.hasher);
    app.accounts.hasher.verify = async (stored, password) => {
      verifications++;
      return original(stored, password);
    };
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: uniqueEmail('nobody'), password: PASSWORD },
      remoteAddress: randomIp(),
    });
    expect(verifications).toBe(1);
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: a.email, password: 'not the password' },
      remoteAddress: randomIp(),
    });
    expect(verifications).toBe(2);
    app.accounts.hasher.verify = original;
  });
});

describe('rate limits', () => {
  it('login per e-mail and address, per IP, register, password reset → 429 with Retry-After', async () => {
    // The pair budget (test/accounts/lockout.test.ts covers the other login budgets).
    const email = uniqueEmail('hammer');
    const hammer = randomIp();
    let last = 0;
    for (let i = 0; i < 11; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: 'whatever-1' },
        remoteAddress: hammer,
      });
      last = response.statusCode;
      if (i < 10) expect(response.statusCode).toBe(401);
    }
    expect(last).toBe(429);

    const ip = randomIp();
    const answers: number[] = [];
    for (let i = 0; i < 61; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: uniqueEmail('spray'), password: 'whatever-1' },
        remoteAddress: ip,
      });
      answers.push(response.statusCode);
      if (response.statusCode === 429) {
        expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
        expect(response.headers['content-type']).toContain('application/problem+json');
      }
    }
    expect(answers.slice(0, 60).every((code) => code === 401)).toBe(true);
    expect(answers[60]).toBe(429);

    const resetEmail = uniqueEmail('reset');
    const resets = [];
    for (let i = 0; i < 4; i++)
      resets.push(
        (
          await app.inject({
            method: 'POST',
            url: '/auth/password-reset/request',
            payload: { email: resetEmail },
            remoteAddress: randomIp(),
          })
        ).statusCode,
      );
    expect(resets).toEqual([202, 202, 202, 429]);

    // Per e-mail: 3 attempts an hour (the 2nd and 3rd are 409: the address is taken by the 1st).
    const once = registerBody();
    const perEmail = [];
    for (let i = 0; i < 4; i++)
      perEmail.push(
        (
          await app.inject({
            method: 'POST',
            url: '/auth/register',
            payload: once,
            remoteAddress: randomIp(),
          })
        ).statusCode,
      );
    expect(perEmail).toEqual([201, 409, 409, 429]);

    // Per IP: 10 an hour, whatever the e-mail (password = e-mail → 422, so no tenant is made).
    const registerIp = randomIp();
    const perIp = [];
    for (let i = 0; i < 11; i++) {
      const email = uniqueEmail('ip');
      perIp.push(
        (
          await app.inject({
            method: 'POST',
            url: '/auth/register',
            payload: registerBody({ email, password: email }),
            remoteAddress: registerIp,
          })
        ).statusCode,
      );
    }
    expect(perIp.slice(0, 10).every((code) => code === 422)).toBe(true);
    expect(perIp[10]).toBe(429);
  });
});
