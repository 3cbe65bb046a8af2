/**
 * Graceful shutdown under load (SPEC 11, issue 9): SIGTERM arrives while requests are in flight; none of
 * them fails, new connections are refused, and the process exits 0.
 *
 * The requests are slow for a legitimate reason: their tenant is one revision behind head, so the first
 * requests wait for the on-demand upgrade (src/tenancy/tenant-plugin.ts), and the test holds a lock that
 * upgrade needs (the new tables reference `users`) until after the signal.
 * A plain SIGTERM with nothing in flight: test/server/server-process.test.ts.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { REGISTRY_CHANNEL } from '../../src/tenancy/registry.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { spawnServer } from '../helpers/server.ts';
import { dataDir, eventually, SERVER_ADMIN, signUpOver, type Timed, timed } from './support.ts';

describe('SIGTERM with requests in flight', { timeout: 90_000 }, () => {
  it('finishes every in-flight request, refuses new connections, and exits 0', async () => {
    const database = await createTestDatabase();
    const data = await dataDir('drain');
    const server = await spawnServer({ DATABASE_URL: database.url, DATA_DIR: data });
    const owner = await signUpOver(server.url, data);

    const down = await timed(`${server.url}/cc/tenants/${owner.tenant}/downgrade`, {
      method: 'POST',
      headers: { ...SERVER_ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ steps: 1 }),
    });
    expect(down.status, down.body).toBe(200);
    // A deliberate downgrade pins the tenant (no on-demand upgrade); unpin it so the next requests
    // wait on an on-demand upgrade, and tell the server's registry cache (its NOTIFY channel).
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query('UPDATE public.tenants SET pinned_at = NULL WHERE tenant_id = $1', [owner.tenant]);
    await admin.query('SELECT pg_notify($1, $2)', [REGISTRY_CHANNEL, owner.tenant]);
    await admin.end();

    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${owner.tenant}".users IN ACCESS EXCLUSIVE MODE`);

      const inFlight = Array.from({ length: 12 }, (_, i) =>
        timed(`${server.url}/${i % 2 ? 'users/' : 'auth/me'}`, { headers: owner.headers }),
      );
      // The upgrade is waiting for our lock: the requests are in flight inside the server.
      await eventually('the on-demand upgrade waits for the lock', async () => {
        // Inside a transaction pg_stat_activity is a snapshot taken at first use: drop it each time.
        await blocker.query('SELECT pg_stat_clear_snapshot()');
        const waiting = await blocker.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        );
        return waiting.rows[0].n > 0;
      });

      server.child.kill('SIGTERM');
      const probes: Timed[] = [];
      await eventually('the server stops accepting connections', async () => {
        const probe = await timed(`${server.url}/health`);
        probes.push(probe);
        return probe.status === 0;
      });
      // Until the listener is gone, a request on a kept-alive connection is refused in the API's own
      // shape (problem+json 503 with Retry-After), or served if it beat the signal.
      for (const probe of probes.filter((p) => p.status !== 0 && p.status !== 200)) {
        expect(probe.status, probe.body).toBe(503);
        expect(Number(probe.retryAfter), probe.body).toBeGreaterThan(0);
        expect(JSON.parse(probe.body), probe.body).toMatchObject({ status: 503 });
      }
      expect(server.child.exitCode).toBeNull();
      await blocker.query('ROLLBACK');

      const answers = await Promise.all(inFlight);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    } finally {
      await blocker.end();
    }
    const exit = await server.exited;
    expect(exit, server.output().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutting down');
  });
});
