/**
 * The database goes away while the server runs (SPEC 11, issue 9). The real server process runs on its
 * own embedded PostgreSQL; the test stops that PostgreSQL, checks that tenant routes and sign-in answer
 * 503 + Retry-After (problem+json) while /health still answers and /health/db says 503, then starts
 * PostgreSQL again on the same data folder and port and checks that everything recovers without
 * restarting the server: reads, writes, sign-in and /health/db.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, type RunningPostgres, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { PASSWORD } from '../accounts/helpers.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { spawnServer } from '../helpers/server.ts';
import { dataDir, eventually, signUpOver, timed } from './support.ts';

const SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

describe('database outage at runtime', { timeout: 90_000 }, () => {
  it('tenant routes answer 503 + Retry-After, /health/db 503, and all recovers when PostgreSQL returns', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-outage-pg-'));
    // mkdtemp makes 0700; PostgreSQL runs as the postgres OS user when we are root.
    await chmod(folder, 0o755);
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    const pgData = path.join(folder, 'pg');
    const port = await freePort();
    let postgres: RunningPostgres = await startEmbeddedPostgres({
      dataDir: pgData,
      port,
      settings: SETTINGS,
    });
    onFileEnd(() => postgres.stop());

    const data = await dataDir('outage');
    const server = await spawnServer({ DATABASE_URL: postgres.url, DATA_DIR: data });
    const owner = await signUpOver(server.url, data);
    const tasks = `${server.url}/tasks/`;
    const json = { ...owner.headers, 'content-type': 'application/json' };
    expect((await timed(`${server.url}/users/`, { headers: owner.headers })).status).toBe(200);
    expect(
      (await timed(tasks, { method: 'POST', headers: json, body: JSON.stringify({ title: 'before' }) }))
        .status,
    ).toBe(201);

    await postgres.stop();

    for (const [what, answer] of [
      ['GET /users/', await timed(`${server.url}/users/`, { headers: owner.headers })],
      ['GET /tasks/', await timed(tasks, { headers: owner.headers })],
      [
        'POST /tasks/',
        await timed(tasks, { method: 'POST', headers: json, body: JSON.stringify({ title: 'x' }) }),
      ],
      [
        'POST /auth/login',
        await timed(`${server.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: owner.email, password: PASSWORD }),
        }),
      ],
    ] as const) {
      expect(answer.status, `${what}: ${answer.body}`).toBe(503);
      expect(Number(answer.retryAfter), what).toBeGreaterThan(0);
      expect(JSON.parse(answer.body), what).toMatchObject({ status: 503 });
      // Answered promptly, not after the pool's connection timeout piles up.
      expect(answer.ms, what).toBeLessThan(6_000);
    }
    const healthDb = await timed(`${server.url}/health/db`);
    expect(healthDb.status).toBe(503);
    const health = await timed(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(server.child.exitCode).toBeNull();

    // Same data folder, same port: the server's pools and its LISTEN client reconnect by themselves.
    postgres = await startEmbeddedPostgres({ dataDir: pgData, port, settings: SETTINGS });
    await eventually('GET /users/ answers 200 again', async () => {
      return (await timed(`${server.url}/users/`, { headers: owner.headers })).status === 200;
    });
    expect((await timed(`${server.url}/health/db`)).status).toBe(200);
    const written = await timed(tasks, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ title: 'after' }),
    });
    expect(written.status, written.body).toBe(201);
    const listed = JSON.parse((await timed(`${tasks}?size=100`, { headers: owner.headers })).body) as {
      items: Array<{ title: string }>;
    };
    expect(listed.items.map((t) => t.title).sort()).toEqual(['after', 'before']);
    const login = await timed(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: owner.email, password: PASSWORD }),
    });
    expect(login.status, login.body).toBe(200);
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/uncaught|unhandled/i);
  });
});
