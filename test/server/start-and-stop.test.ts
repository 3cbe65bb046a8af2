/**
 * The server process as deployed (src/server.ts, spawned): MIGRATE_TENANTS_ON_START with tenants behind
 * head — `blocking` migrates them before listening, `background` listens while the fleet upgrades, `off`
 * leaves them to their first request — and SIGINT shutdown. Each start is observed through state (the log,
 * pg_stat_activity, the schemas' version tables), never through a fixed wait. Cluster mode runs from the
 * production build: test/built/production-build.test.ts.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { eventually } from '../faults/support.ts';
import { testCore } from '../helpers/core.ts';
import { type ServerProcess, spawnServer } from '../helpers/server.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;
const behindBy1 = revisions.at(-2)!;
const env = { DATABASE_URL: core.database.url };

const current = async (tenantId: string) =>
  (await core.tenantRunner.status({ host: DEFAULT_HOST, db, schema: tenantId })).current;

/** Tenants one revision behind head (schema and registry). */
async function behind(...tenantIds: string[]): Promise<void> {
  for (const tenantId of tenantIds) {
    await core.tenants.create({ name: tenantId, tenantId });
    await core.tenantRunner.downgrade({ host: DEFAULT_HOST, db, schema: tenantId }, { to: behindBy1 });
    await core.registry.recordMigration(tenantId, { revision: behindBy1, status: 'ok', error: null });
  }
}

/**
 * Holds an exclusive lock on `tenant.users` (the last revision references it), so that tenant's upgrade
 * stops inside its transaction until `release`.
 */
async function holdUsers(tenantId: string) {
  const blocker = new pg.Client({ connectionString: core.database.url });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query(`LOCK TABLE "${tenantId}".users IN ACCESS EXCLUSIVE MODE`);
  return {
    /** True while a backend of this database waits for that lock (read outside the blocker's snapshot). */
    waitedFor: async () => {
      const waiting = await core.hosts.pool().query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE a.datname = current_database() AND NOT l.granted AND l.relation = $1::regclass`,
        [`"${tenantId}".users`],
      );
      return waiting.rows[0].n > 0;
    },
    release: async () => {
      await blocker.query('ROLLBACK');
      await blocker.end();
    },
  };
}

/** CPU time (clock ticks) a process has used so far (Linux /proc). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * A check for `eventually`: true once `pid` has used no CPU for five polls in a row (a second), or once
 * its port accepts connections (the caller then finds the port open and fails).
 */
function idleOrListening(pid: number, port: number): () => Promise<boolean> {
  let last = -1;
  let still = 0;
  return async () => {
    if (!(await refused(`http://127.0.0.1:${port}`))) return true;
    const ticks = await cpuTicks(pid);
    still = ticks === last ? still + 1 : 0;
    last = ticks;
    return still >= 5;
  };
}

const logLines = (server: ServerProcess) =>
  server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; pid: number; signal?: string });

const refused = (url: string) =>
  fetch(`${url}/health`).then(
    () => false,
    () => true,
  );

// tsx start-ups on a loaded 2-core machine take tens of seconds at times: generous budgets, no fixed waits.
const SLOW_START = { startTimeoutMs: 100_000 };

describe('MIGRATE_TENANTS_ON_START with tenants behind head', { timeout: 150_000 }, () => {
  it('blocking: migrates every tenant before it listens', async () => {
    await behind('start_blk_a', 'start_blk_b');
    const lock = await holdUsers('start_blk_b');
    const port = await freePort();
    let starting: ReturnType<typeof spawnServer> | undefined;
    let pid = 0;
    try {
      starting = spawnServer({ ...env, MIGRATE_TENANTS_ON_START: 'blocking' }, port, {
        ...SLOW_START,
        onSpawn: (child) => {
          pid = child.pid!;
        },
      });
      await eventually('the start-up migration waits for start_blk_b', lock.waitedFor);
      // The process has nothing left to do but wait for the migration (a server that went on to load
      // its app and listen would keep using CPU until the port opened).
      await eventually('the server process is idle', idleOrListening(pid, port));
      expect(await refused(`http://127.0.0.1:${port}`)).toBe(true);
      expect(await current('start_blk_b')).toBe(behindBy1);
    } finally {
      await lock.release();
    }
    const server = await starting!;
    // At the moment it listens, both are at head.
    expect(await current('start_blk_a')).toBe(head);
    expect(await current('start_blk_b')).toBe(head);
    expect(server.output()).toContain('tenant migrations finished');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('background: listens while the fleet upgrades, and the fleet reaches head', async () => {
    await behind('start_bg_a', 'start_bg_b');
    const lock = await holdUsers('start_bg_b');
    let server: ServerProcess;
    try {
      server = await spawnServer({ ...env, MIGRATE_TENANTS_ON_START: 'background' }, undefined, SLOW_START);
      // Serving while start_bg_b's upgrade waits inside its transaction.
      await eventually('the background migration waits for start_bg_b', lock.waitedFor);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect(await current('start_bg_b')).toBe(behindBy1);
      expect(server.output()).not.toContain('tenant migrations finished');
    } finally {
      await lock.release();
    }
    await eventually('the background migration finishes', async () =>
      server.output().includes('tenant migrations finished'),
    );
    expect(await current('start_bg_a')).toBe(head);
    expect(await current('start_bg_b')).toBe(head);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('off: nothing migrates at start, a tenant is upgraded on its first request; SIGINT stops gracefully', async () => {
    await behind('start_off_a', 'start_off_b');
    const server = await spawnServer({ ...env, MIGRATE_TENANTS_ON_START: 'off' }, undefined, SLOW_START);
    // The first request naming start_off_a upgrades it: a well-formed token that matches no session
    // (401 after the upgrade; a request with no token at all is refused before any upgrade runs).
    const first = await fetch(`${server.url}/users/`, {
      headers: { tenant: 'start_off_a', authorization: `Bearer ${'x'.repeat(43)}` },
    });
    expect(first.status).toBe(401);
    expect(await current('start_off_a')).toBe(head);
    expect(await current('start_off_b')).toBe(behindBy1);

    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const shutdown = logLines(server).find((line) => line.msg.startsWith('shutting down'));
    expect(shutdown?.signal).toBe('SIGINT');
    // The process is gone and never upgraded the other tenant.
    expect(await current('start_off_b')).toBe(behindBy1);
    expect(server.output()).not.toContain('tenant migrations finished');
  });
});
