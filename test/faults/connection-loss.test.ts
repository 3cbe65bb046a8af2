/**
 * Every way of losing the database answers 503 + Retry-After (issue 14), over TCP and over a Unix socket
 * (the `npm start` default): connections refused, reset, swallowed until the connect timeout, FATAL 57P01
 * (admin shutdown) and 57P03 (cannot connect now), and on a socket the socket file gone
 * (`connect ENOENT …/.s.PGSQL.<port>`, answered 500 before) or stale. A proxy in front of the real test
 * PostgreSQL (pg-fault-proxy.ts) makes each fault on demand; after each the app recovers by itself.
 * Last, the real thing: a server process on its own embedded PostgreSQL through its Unix socket, with
 * that PostgreSQL stopped and started again.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, type RunningPostgres, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { PASSWORD } from '../accounts/helpers.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { spawnServer } from '../helpers/server.ts';
import { tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { caller, createTask } from '../todo/support.ts';
import { type FaultMode, FaultProxy } from './pg-fault-proxy.ts';
import { dataDir, eventually, signUpOver, timed } from './support.ts';

/** An app whose every connection to the default host goes through `proxy`. */
async function appBehind(transport: 'tcp' | 'socket') {
  const database = await createTestDatabase();
  const real = new URL(database.url);
  const target = { host: real.hostname, port: Number(real.port) };
  let url: string;
  let proxy: FaultProxy;
  if (transport === 'tcp') {
    proxy = await new FaultProxy({ port: 0 }, target).start();
    url = `postgres://${real.username}:${real.password}@127.0.0.1:${proxy.port}${real.pathname}`;
  } else {
    const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-sock-'));
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    proxy = await new FaultProxy({ path: path.join(folder, '.s.PGSQL.5432') }, target).start();
    const query = new URLSearchParams({
      host: folder,
      port: '5432',
      user: real.username,
      password: real.password,
    });
    url = `postgres:///${real.pathname.slice(1)}?${query}`;
  }
  onFileEnd(() => proxy.close());
  const context = await usersApp({
    database,
    defaultDatabaseUrl: url,
    env: { DATABASE_POOL_WAIT_MS: '1000', DATABASE_POOL_QUEUE: '100' },
  });
  return { context, proxy };
}

const FAULTS: Record<'tcp' | 'socket', FaultMode[]> = {
  tcp: ['refuse', 'reset', 'blackhole', '57P01', '57P03'],
  socket: ['gone', 'refuse', 'reset', 'blackhole', '57P01', '57P03'],
};

describe.each(['tcp', 'socket'] as const)(
  'losing the database over %s',
  { timeout: 120_000 },
  (transport) => {
    it('every fault answers 503 + Retry-After problem+json on reads, writes and sign-in; then recovers', async () => {
      const { context, proxy } = await appBehind(transport);
      const { app } = context;
      const users = await tenantWithUsers(context);
      const owner = caller(app, users.owner);
      const task = await createTask(owner, { title: 'before' });
      const requests = [
        ['GET /tasks/', () => owner('GET', '/tasks/')],
        ['POST /tasks/', () => owner('POST', '/tasks/', { title: 'x' })],
        ['PATCH /tasks/{uuid}', () => owner('PATCH', `/tasks/${task.uuid}`, { position: 1, title: 'y' })],
        ['DELETE /tasks/{uuid}', () => owner('DELETE', `/tasks/${task.uuid}`)],
        [
          'POST /auth/login',
          () =>
            app.inject({
              method: 'POST',
              url: '/auth/login',
              payload: { email: users.owner.email, password: PASSWORD },
            }),
        ],
      ] as const;

      for (const fault of FAULTS[transport]) {
        await proxy.set(fault);
        for (const [what, send] of requests) {
          const started = performance.now();
          const answer = await send();
          const label = `${transport} ${fault}: ${what}`;
          expect(answer.statusCode, `${label}: ${answer.body}`).toBe(503);
          expect(Number(answer.headers['retry-after']), label).toBeGreaterThan(0);
          expect(answer.headers['content-type'], label).toContain('application/problem+json');
          expect(answer.json(), label).toMatchObject({ status: 503 });
          // Bounded by DATABASE_POOL_WAIT_MS (1 s), not by a TCP timeout.
          expect(performance.now() - started, label).toBeLessThan(5_000);
        }
        await proxy.set('pass');
        await eventually(`${transport} after ${fault}: GET /tasks/ answers 200`, async () => {
          return (await owner('GET', '/tasks/')).statusCode === 200;
        });
      }
      expect((await owner('PATCH', `/tasks/${task.uuid}`, { title: 'after' })).statusCode).toBe(200);
    });
  },
);

const SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

describe(
  'a server on its embedded PostgreSQL through the Unix socket, PostgreSQL stopped',
  { timeout: 120_000 },
  () => {
    it('answers 503 + Retry-After (not 500 for connect ENOENT) and recovers when PostgreSQL returns', async () => {
      const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-sockpg-'));
      await chmod(folder, 0o755);
      onFileEnd(() => rm(folder, { recursive: true, force: true }));
      const pgData = path.join(folder, 'pg');
      const port = await freePort();
      let postgres: RunningPostgres = await startEmbeddedPostgres({
        dataDir: pgData,
        port,
        settings: SETTINGS,
        unixSocket: true,
      });
      onFileEnd(() => postgres.stop());
      expect(postgres.socketUrl).toBeDefined();
      const data = await dataDir('sockpg');
      const server = await spawnServer({ DATABASE_URL: postgres.socketUrl ?? '', DATA_DIR: data });
      const owner = await signUpOver(server.url, data);
      const json = { ...owner.headers, 'content-type': 'application/json' };
      expect((await timed(`${server.url}/tasks/`, { headers: owner.headers })).status).toBe(200);

      await postgres.stop();
      for (const [what, init] of [
        ['GET /tasks/', { headers: owner.headers }],
        ['POST /tasks/', { method: 'POST', headers: json, body: JSON.stringify({ title: 'x' }) }],
      ] as const) {
        const answer = await timed(`${server.url}/tasks/`, init);
        expect(answer.status, `${what}: ${answer.body}`).toBe(503);
        expect(Number(answer.retryAfter), what).toBeGreaterThan(0);
      }

      postgres = await startEmbeddedPostgres({ dataDir: pgData, port, settings: SETTINGS, unixSocket: true });
      await eventually('GET /tasks/ answers 200 again', async () => {
        return (await timed(`${server.url}/tasks/`, { headers: owner.headers })).status === 200;
      });
      expect(server.output()).not.toMatch(/uncaught|unhandled|"level":50/i);
    });
  },
);
