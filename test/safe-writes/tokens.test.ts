/**
 * Scoped API tokens (issue 19): created with a subset of the creator's permissions (more → 403), shown
 * once and stored hashed; requests with one get the intersection of its scopes and the user's current
 * permissions, and are logged with its name; listed per user (all for holders of USER_EDIT); revoked by
 * the owner or an admin; expired or revoked → 401; tokens cannot manage tokens or sessions.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { ok } from '../todo/support.ts';

const logLines: string[] = [];
const context = await usersApp();
const { app } = context;
let users: TenantUsers;

beforeAll(async () => {
  users = await tenantWithUsers(context);
});

interface Created {
  uuid: string;
  token: string;
  scopes: string[];
  expires_at: string;
}

const create = (headers: Record<string, string>, body: object) =>
  app.inject({ method: 'POST', url: '/tokens/', headers, payload: body });
const withToken = (token: string) => ({ tenant: users.tenant, authorization: `Bearer ${token}` });

describe('scoped API tokens', () => {
  it('creates a token shown once and stored hashed; it works within its scopes only', async () => {
    const created = await ok<Created>(
      create(users.owner.headers, { name: 'CI', scopes: ['TASK_VIEW', 'TASK_ADD'] }),
      201,
    );
    expect(created.token).toMatch(/^tnt_[A-Za-z0-9_-]{43}$/);
    expect(created.scopes).toEqual(['TASK_ADD', 'TASK_VIEW']);
    const stored = await sql<{ token_hash: Buffer }>`
      SELECT token_hash FROM ${sql.table(`${users.tenant}.api_tokens`)} WHERE uuid = ${created.uuid}`.execute(
      app.core.hosts.db(),
    );
    expect(stored.rows[0]?.token_hash.equals(createHash('sha256').update(created.token).digest())).toBe(true);
    const listed = await ok<{ items: Array<Record<string, unknown>> }>(
      app.inject({ method: 'GET', url: '/tokens/', headers: users.owner.headers }),
    );
    const mine = listed.items.find((item) => item.uuid === created.uuid);
    expect(mine).toBeDefined();
    expect(mine).not.toHaveProperty('token');

    const headers = withToken(created.token);
    expect((await app.inject({ method: 'GET', url: '/tasks/', headers })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: '/tasks/', headers, payload: { title: 'by token' } }))
        .statusCode,
    ).toBe(201);
    // Outside its scopes, though the owner holds these permissions:
    expect((await app.inject({ method: 'GET', url: '/users/', headers })).statusCode).toBe(403);
    expect(
      (await app.inject({ method: 'POST', url: '/lists/', headers, payload: { name: 'x' } })).statusCode,
    ).toBe(403);
    // Session and token management stay with sessions:
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/tokens/',
          headers,
          payload: { name: 'n', scopes: ['TASK_VIEW'] },
        })
      ).statusCode,
    ).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/tasks/', headers })).statusCode).toBe(200);
  });

  it('refuses scopes beyond the creator’s permissions (403), unknown ones (400), bad expiry (422)', async () => {
    const refused = await create(users.member.headers, {
      name: 'too much',
      scopes: ['TASK_VIEW', 'USER_DELETE'],
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().detail).toContain('USER_DELETE');
    expect((await create(users.member.headers, { name: 'x', scopes: ['NOPE'] })).statusCode).toBe(400);
    expect((await create(users.member.headers, { name: 'x', scopes: [] })).statusCode).toBe(400);
    const past = new Date(Date.now() - 1000).toISOString();
    expect(
      (await create(users.member.headers, { name: 'x', scopes: ['TASK_VIEW'], expires_at: past })).statusCode,
    ).toBe(422);
    const far = new Date(Date.now() + 400 * 24 * 3600 * 1000).toISOString();
    expect(
      (await create(users.member.headers, { name: 'x', scopes: ['TASK_VIEW'], expires_at: far })).statusCode,
    ).toBe(422);
  });

  it('gets only the scopes the user still holds: a demoted user’s token narrows at once', async () => {
    const member = await ok<Created>(
      create(users.member.headers, { name: 'member', scopes: ['TASK_VIEW', 'TASK_EDIT'] }),
      201,
    );
    const headers = withToken(member.token);
    expect((await app.inject({ method: 'GET', url: '/tasks/', headers })).statusCode).toBe(200);
    const viewer = await ok<{ uuid: string }>(
      app.inject({
        method: 'POST',
        url: '/roles/',
        headers: users.owner.headers,
        payload: { name: 'NO_TASKS', title: 'No tasks', permissions: ['USER_VIEW'] },
      }),
      201,
    );
    await ok(
      app.inject({
        method: 'PATCH',
        url: `/users/${users.member.uuid}`,
        headers: users.owner.headers,
        payload: { role_uuid: viewer.uuid },
      }),
    );
    expect((await app.inject({ method: 'GET', url: '/tasks/', headers })).statusCode).toBe(403);
    // Its scopes never included USER_VIEW, which the new role holds:
    expect((await app.inject({ method: 'GET', url: '/users/', headers })).statusCode).toBe(403);
  });

  it('expired or revoked tokens answer 401; owners revoke theirs, admins anyone’s, others get 404', async () => {
    const own = await ok<Created>(create(users.owner.headers, { name: 'short', scopes: ['TASK_VIEW'] }), 201);
    await sql`UPDATE ${sql.table(`${users.tenant}.api_tokens`)} SET expires_at = now() - interval '1 second'
      WHERE uuid = ${own.uuid}`.execute(app.core.hosts.db());
    expect(
      (await app.inject({ method: 'GET', url: '/tasks/', headers: withToken(own.token) })).statusCode,
    ).toBe(401);

    const memberHeaders = users.member.headers;
    const second = await ok<Created>(
      create(users.owner.headers, { name: 'to revoke', scopes: ['USER_VIEW'] }),
      201,
    );
    // A member cannot see or revoke the owner's token:
    expect(
      (await app.inject({ method: 'DELETE', url: `/tokens/${second.uuid}`, headers: memberHeaders }))
        .statusCode,
    ).toBe(404);
    const memberList = await ok<{ items: Array<{ uuid: string }> }>(
      app.inject({ method: 'GET', url: '/tokens/', headers: memberHeaders }),
    );
    expect(memberList.items.map((item) => item.uuid)).not.toContain(second.uuid);
    expect(
      (await app.inject({ method: 'GET', url: '/users/', headers: withToken(second.token) })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ method: 'DELETE', url: `/tokens/${second.uuid}`, headers: users.owner.headers }))
        .statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: '/users/', headers: withToken(second.token) })).statusCode,
    ).toBe(401);

    // An admin (USER_EDIT) sees and revokes a member's token.
    const memberToken = await ok<Created>(
      create(memberHeaders, { name: 'member own', scopes: ['USER_VIEW'] }),
      201,
    );
    const all = await ok<{ items: Array<{ uuid: string }> }>(
      app.inject({ method: 'GET', url: '/tokens/', headers: users.owner.headers }),
    );
    expect(all.items.map((item) => item.uuid)).toContain(memberToken.uuid);
    expect(
      (
        await app.inject({
          method: 'DELETE',
          url: `/tokens/${memberToken.uuid}`,
          headers: users.owner.headers,
        })
      ).statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: '/users/', headers: withToken(memberToken.token) })).statusCode,
    ).toBe(401);
    const revokedList = await ok<{ items: Array<{ uuid: string; revoked_at: string | null }> }>(
      app.inject({ method: 'GET', url: '/tokens/?revoked=true', headers: users.owner.headers }),
    );
    expect(revokedList.items.find((item) => item.uuid === memberToken.uuid)?.revoked_at).not.toBeNull();
  });

  it('a token of another tenant is unknown here (401)', async () => {
    const other = await tenantWithUsers(context);
    const theirs = await ok<Created>(
      create(other.owner.headers, { name: 'elsewhere', scopes: ['TASK_VIEW'] }),
      201,
    );
    expect(
      (await app.inject({ method: 'GET', url: '/tasks/', headers: withToken(theirs.token) })).statusCode,
    ).toBe(401);
  });
});

describe('request logs name the token', () => {
  it('writes api_token: <name> on the request lines of a token request', async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    const logged = await buildApp(app.core, { logger: { level: 'info', stream: sink } });
    onTestFinished(() => logged.close());
    const created = await ok<Created>(
      create(users.owner.headers, { name: 'logged-integration', scopes: ['TASK_VIEW'] }),
      201,
    );
    const answer = await logged.inject({ method: 'GET', url: '/tasks/', headers: withToken(created.token) });
    expect(answer.statusCode).toBe(200);
    const lines = logLines.map((line) => JSON.parse(line) as { api_token?: string; msg?: string });
    expect(
      lines.some((line) => line.api_token === 'logged-integration' && line.msg === 'request completed'),
    ).toBe(true);
  });
});
