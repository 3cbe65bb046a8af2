/**
 * The pgbench ceiling of `npm run bench` (bench/ceiling.ts) replays what the route really sends:
 * captured from a request, one statement once the principal is cached (two without the cache), and
 * the pgbench script of it runs and means the same SQL as the original.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgbenchSafeText, pgbenchScript, routeStatements, runPgbench } from '../../bench/ceiling.ts';
import { accountsApp, signUp } from '../accounts/helpers.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
/** Apps without a job runner: nothing else of this process talks to the database during a capture. */
const quiet = (env: Record<string, string> = {}) =>
  accountsApp({ database: core.database, env: { JOBS_CONCURRENCY: '0', ...env } });

describe('pgbench ceiling of GET /users/', { timeout: 120_000 }, () => {
  it('captures the one statement a warm request sends (two without the principal cache)', async () => {
    const signUps = await accountsApp({ database: core.database });
    const owner = await signUp(signUps);
    await signUps.app.close();
    const request = { method: 'GET' as const, url: '/users/', headers: owner.headers };
    const statements = await routeStatements((await quiet()).app, request);
    expect(statements).toHaveLength(1);
    expect(statements[0]?.text).toContain(`FROM "${owner.tenant}"."users" u JOIN "${owner.tenant}"."roles"`);

    // The same request with the cache off sends the principal's statement too.
    const both = await routeStatements((await quiet({ PRINCIPAL_CACHE_MAX: '0' })).app, request);
    expect(both).toHaveLength(2);
    expect(both[1]?.text).toBe(statements[0]?.text);

    // The pgbench text means the same: same rows as the original, parameters as PostgreSQL reads them.
    const client = new pg.Client({ connectionString: core.database.url });
    await client.connect();
    try {
      for (const statement of both) {
        const original = await client.query(statement.text, statement.values);
        const rewritten = await client.query(pgbenchSafeText(statement.text), statement.values);
        expect(rewritten.rows).toEqual(original.rows);
      }
    } finally {
      await client.end();
    }
    expect(pgbenchSafeText("to_char(x, 'HH24:MI') || 'a\\b'")).toBe("to_char(x, E'HH24\\x3aMI') || 'a\\b'");

    // And pgbench runs it (a failing statement makes pgbench exit non-zero, which throws).
    const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-ceiling-'));
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    const script = pgbenchScript(both);
    expect(script.defines).toHaveLength(both.reduce((sum, s) => sum + s.values.length, 0));
    const result = await runPgbench(core.database.url, script, folder, {
      clients: 1,
      threads: 1,
      seconds: 1,
    });
    expect(result.tps).toBeGreaterThan(0);
  });
});
