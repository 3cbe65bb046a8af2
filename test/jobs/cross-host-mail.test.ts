/**
 * E-mail of a tenant on another database host (issue 16 gap): its rows commit on that host, the job queue
 * lives on the default host, so no single transaction covers both. The job is enqueued before the
 * tenant's commit and sends only if that transaction committed (src/jobs/mail-jobs.ts). Killed before
 * the commit → nothing sent; killed right after it → sent exactly once; rolled back → nothing sent.
 * (Before, the job was enqueued after the commit: a kill in between lost the e-mail.)
 */

import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { dataDir, eventually } from '../faults/support.ts';
import { SECOND_HOST, testApp } from '../helpers/core.ts';
import { randomTenantId } from '../tenancy/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const folder = await dataDir('cross-host-mail');
const app = await testApp({ secondHost: true, env: { DATA_DIR: folder, JOBS_POLL_INTERVAL_MS: '100' } });
const { core } = app;
const tenantId = randomTenantId('mailhost');
await core.tenants.create({ name: 'Mail host', tenantId, host: SECOND_HOST });

async function sent(subject: string): Promise<number> {
  const files = await readdir(path.join(folder, 'outbox')).catch(() => [] as string[]);
  let count = 0;
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    const entry = JSON.parse(await readFile(path.join(folder, 'outbox', file), 'utf8')) as {
      subject: string;
    };
    if (entry.subject === subject) count++;
  }
  return count;
}

/** Waits until the queue holds no job for `subject` any more (done, whatever it decided). */
async function settled(subject: string): Promise<void> {
  await eventually(
    `the job of ${subject}`,
    async () => {
      const left = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE key LIKE ${`mail:test:${subject}:%`}`.execute(
        core.hosts.db(DEFAULT_HOST),
      );
      return left.rows[0]!.n === 0;
    },
    60_000,
  );
}

async function groupRows(subject: string): Promise<number> {
  const rows = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM ${sql.table(`${tenantId}.groups`)} WHERE name = ${subject}`.execute(
    core.hosts.db(SECOND_HOST),
  );
  return rows.rows[0]!.n;
}

/** Runs the child until it prints `signal`, then SIGKILLs it. */
async function killAfter(mode: 'hold' | 'commit', subject: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/fixtures/cross-host-mail-child.ts',
      core.hosts.url(DEFAULT_HOST),
      core.hosts.url(SECOND_HOST),
      SECOND_HOST,
      tenantId,
      mode,
      subject,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const signal = mode === 'hold' ? 'enqueued' : 'committed';
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(signal)) resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', () => reject(new Error(`child exited before "${signal}":\n${output}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('e-mail of a tenant on another host', { timeout: 240_000 }, () => {
  it('SIGKILL before the tenant commit: the job sends nothing (and the rows are gone)', async () => {
    const subject = `hold-${randomTenantId('s')}`;
    await killAfter('hold', subject);
    await settled(subject);
    expect(await groupRows(subject)).toBe(0);
    expect(await sent(subject)).toBe(0);
  });

  it('SIGKILL right after the tenant commit: the e-mail is sent exactly once', async () => {
    const subject = `commit-${randomTenantId('s')}`;
    await killAfter('commit', subject);
    await settled(subject);
    expect(await groupRows(subject)).toBe(1);
    expect(await sent(subject)).toBe(1);
  });

  it('a rolled-back tenant transaction sends nothing; a committed one waits for its commit, then sends once', async () => {
    const host = core.hosts.db(SECOND_HOST);
    const message = (subject: string) => ({ to: 'a@example.com', subject, text: subject, html: subject });
    const aborted = `abort-${randomTenantId('s')}`;
    await expect(
      host.transaction().execute(async (trx) => {
        await app.jobs.mail.enqueueForTenant(SECOND_HOST, trx, message(aborted), `mail:test:${aborted}`);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    // Held open for a while after the enqueue: the job (woken at once) must wait for the outcome.
    const slow = `slow-${randomTenantId('s')}`;
    await host.transaction().execute(async (trx) => {
      await app.jobs.mail.enqueueForTenant(SECOND_HOST, trx, message(slow), `mail:test:${slow}`);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    });
    await settled(aborted);
    await settled(slow);
    expect(await sent(aborted)).toBe(0);
    expect(await sent(slow)).toBe(1);
  });
});
