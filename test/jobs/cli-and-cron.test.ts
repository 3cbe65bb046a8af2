/**
 * Operations on the job queue from the shell (`tenantry db upgrade head --all --background`,
 * `tenantry jobs list|show|retry|cancel`) and the scheduled prune of expired sessions and tokens.
 * No server runs here: the CLI only enqueues, so jobs stay where an operator can inspect them.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { pruneAuthTokens } from '../../src/jobs/cleanup.ts';
import { SCHEDULES } from '../../src/jobs/jobs-plugin.ts';
import { enqueue } from '../../src/jobs/queue.ts';
import { runCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const env = { DATABASE_URL: core.database.url };

describe('jobs from the CLI', { timeout: 60_000 }, () => {
  it('enqueues a background fleet job with waves; list, show, cancel, retry', async () => {
    await core.tenants.create({ name: 'Cli one', tenantId: 'cli_one' });
    const started = await runCli(
      ['db', 'upgrade', 'head', '--all', '--background', '--canary', '1', '--max-failures', '10%', '--json'],
      env,
    );
    expect(started.code, started.stderr).toBe(0);
    const { job_id: id } = JSON.parse(started.stdout.trim().split('\n').at(-1)!) as { job_id: string };

    const fleet = await runCli(['jobs', 'list', '--fleet', '--json'], env);
    expect(JSON.parse(fleet.stdout).items[0]).toMatchObject({ job_id: id, status: 'queued' });
    const shown = await runCli(['jobs', 'show', id], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      status: 'queued',
      request: { canary: 1, max_failures: '10%', target: 'head' },
    });
    const queue = await runCli(['jobs', 'list'], env);
    expect(queue.stdout).toMatch(/fleet-migrate\s+pending\s+0\/25/);

    const cancelled = await runCli(['jobs', 'cancel', id], env);
    expect(cancelled.stdout).toContain(`fleet job ${id} cancelled`);
    const resumeCancelled = await runCli(['db', 'upgrade', 'head', '--resume', id], env);
    expect(resumeCancelled.code).toBe(1);
    expect(resumeCancelled.stderr).toContain('only a halted or failed job can be resumed');

    const mailJob = await enqueue(db, 'send-mail', { to: 'x@example.com' }, { maxAttempts: 1 });
    await sql`UPDATE graphile_worker._private_jobs SET attempts = 1, last_error = 'refused' WHERE id = ${mailJob}::bigint`.execute(
      db,
    );
    const failed = await runCli(['jobs', 'list', '--state', 'failed', '--json'], env);
    expect(JSON.parse(failed.stdout)).toMatchObject([
      { id: mailJob, state: 'failed', last_error: 'refused' },
    ]);
    expect((await runCli(['jobs', 'retry', mailJob], env)).code).toBe(0);
    expect(JSON.parse((await runCli(['jobs', 'show', mailJob], env)).stdout)).toMatchObject({
      attempts: 0,
      state: 'retrying',
    });
    expect((await runCli(['jobs', 'cancel', mailJob], env)).code).toBe(0);
    expect((await runCli(['jobs', 'show', mailJob], env)).code).toBe(2); // gone: no such job (issue 20: one exit code per situation)

    expect((await runCli(['jobs', 'show', 'nope'], env)).code).toBe(2);
    expect((await runCli(['db', 'upgrade', 'head', '--tenant', 'cli_one', '--background'], env)).code).toBe(
      2,
    );
    expect(
      (await runCli(['db', 'upgrade', 'head', '--all', '--background', '--max-failures', 'x'], env)).code,
    ).toBe(2);
  });

  it('prunes expired and revoked sessions and used or expired tokens, keeps live ones (hourly cron)', async () => {
    expect(SCHEDULES.map((s) => s.task)).toContain('prune-auth-tokens');
    await core.tenants.create({ name: 'Prune', tenantId: 'cli_prune' });
    const user = await sql<{ id: string }>`
      INSERT INTO cli_prune.users (email, first_name, last_name, role_id)
      SELECT 'p@example.com', 'P', 'R', id FROM cli_prune.roles WHERE name = 'MEMBER'
      RETURNING id`.execute(db);
    const userId = user.rows[0]!.id;
    const hash = () => randomBytes(32);
    for (const [expires, revoked] of [
      ["now() - interval '2 days'", 'NULL'],
      ["now() + interval '1 day'", "now() - interval '2 days'"],
      ["now() + interval '1 day'", 'NULL'],
    ]) {
      await sql`INSERT INTO cli_prune.sessions (token_hash, user_id, expires_at, revoked_at)
        VALUES (${hash()}, ${userId}, ${sql.raw(expires!)}, ${sql.raw(revoked!)})`.execute(db);
    }
    for (const [expires, used] of [
      ["now() - interval '2 days'", 'NULL'],
      ["now() + interval '1 day'", "now() - interval '2 days'"],
      ["now() + interval '1 day'", 'NULL'],
    ]) {
      await sql`INSERT INTO cli_prune.user_tokens (token_hash, kind, user_id, expires_at, used_at)
        VALUES (${hash()}, 'password_reset', ${userId}, ${sql.raw(expires!)}, ${sql.raw(used!)})`.execute(db);
    }
    const pruned = await pruneAuthTokens(core);
    expect(pruned).toMatchObject({ sessions: 2, tokens: 2 });
    const left = await sql<{ s: number; t: number }>`
      SELECT (SELECT count(*)::int FROM cli_prune.sessions) AS s,
             (SELECT count(*)::int FROM cli_prune.user_tokens) AS t`.execute(db);
    expect(left.rows[0]).toEqual({ s: 1, t: 1 });
  });
});
