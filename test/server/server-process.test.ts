import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { onFileEnd } from '../helpers/cleanup.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { spawnServer } from '../helpers/server.ts';

describe('server process', () => {
  it('serves on DATABASE_URL, migrates public at start, and exits 0 on SIGTERM after closing', async () => {
    const database = await createTestDatabase({ empty: true });
    const server = await spawnServer({ DATABASE_URL: database.url, MIGRATE_TENANTS_ON_START: 'blocking' });
    const health = await fetch(`${server.url}/health/db`);
    expect(health.status, await health.clone().text()).toBe(200);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const tables = await client.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('tenants', 'accounts', 'schema_migrations')",
    );
    await client.end();
    expect(tables.rows[0].n).toBe(3);

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutting down');
  });

  it('refuses to serve when the public schema migration fails', async () => {
    const database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(
      "INSERT INTO public.schema_migrations (revision, name) VALUES ('ffffffffffff', 'newer code')",
    );
    await client.end();
    const server = await spawnServer({ DATABASE_URL: database.url });
    expect((await server.exited).code).toBe(1);
    expect(server.output()).toContain('refusing to serve');
    expect(server.output()).toContain('unknown to this code');
  });

  it('a bad variable stops the start with a message naming it', async () => {
    const server = await spawnServer({ DATABASE_URL: 'postgres://x@127.0.0.1:1/x', WEB_CONCURRENCY: 'many' });
    expect((await server.exited).code).toBe(2);
    expect(server.output()).toMatch(/WEB_CONCURRENCY="many": expected a whole number/);
  });

  it('production refuses to start without DATABASE_URL instead of starting an embedded server', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-server-test-'));
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    const server = await spawnServer({ NODE_ENV: 'production', DATA_DIR: folder });
    expect((await server.exited).code).toBe(2);
    expect(server.output()).toContain('DATABASE_URL is required when NODE_ENV=production');
    expect(existsSync(path.join(folder, 'pg'))).toBe(false);
  });

  it('embedded PostgreSQL: starts without DATABASE_URL, a second server on the same data folder reuses it, SIGTERM stops it', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-server-test-'));
    await chmod(folder, 0o755);
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    // No CC_ADMIN_TOKEN: one is generated and kept in the data folder.
    const env = { DATA_DIR: folder, CC_ADMIN_TOKEN: '' };

    const first = await spawnServer(env);
    expect((await fetch(`${first.url}/health/db`)).status).toBe(200);
    expect(first.output()).toContain('embedded PostgreSQL 15 on port');

    // The superuser's password is random, kept beside the cluster readable by root alone; the
    // well-known one is refused.
    const passwordFile = path.join(folder, 'embedded-postgres-password');
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[\w-]{40,}$/);
    const port = Number(readFileSync(path.join(folder, 'pg', 'postmaster.pid'), 'utf8').split('\n')[3]);
    const wellKnown = new pg.Client({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    });
    await expect(wellKnown.connect()).rejects.toThrow(/password authentication failed/);
    const owner = new pg.Client({
      connectionString: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    });
    await owner.connect();
    await owner.end();

    // The control center token: generated once, kept 0600, printed in plain words, accepted.
    const tokenFile = path.join(folder, 'cc-admin-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(first.output()).toContain(`Control center token: ${token}`);
    expect(first.output()).toContain(`API docs:  ${first.url}/docs`);
    const cc = await fetch(`${first.url}/cc/tenants`, { headers: { authorization: `Bearer ${token}` } });
    expect(cc.status).toBe(200);
    // The server's own pools go through the socket in the data folder (the path is short enough here).
    expect(first.output()).toContain('and its Unix socket');
    expect(readdirSync(path.join(folder, 'pg')).some((name) => name.startsWith('.s.PGSQL.'))).toBe(true);
    const pidFile = path.join(folder, 'pg', 'postmaster.pid');
    expect(existsSync(pidFile)).toBe(true);

    const second = await spawnServer(env);
    expect(second.output()).toContain('embedded PostgreSQL already running on port');
    expect(second.output()).toContain('and its Unix socket');
    expect((await fetch(`${second.url}/health/db`)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    // The second server did not own the database, so the first keeps working.
    expect((await fetch(`${first.url}/health/db`)).status).toBe(200);

    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(existsSync(pidFile)).toBe(false);

    // Data, password and token survive a restart.
    const again = await spawnServer(env);
    expect((await fetch(`${again.url}/health/db`)).status).toBe(200);
    expect(again.output()).toContain(`Control center token: ${token}`);
    expect(readFileSync(passwordFile, 'utf8').trim()).toBe(password);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
    // initdb and three server starts: allow for a busy machine.
  }, 240_000);
});
