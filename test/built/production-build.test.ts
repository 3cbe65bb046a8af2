/**
 * The production build is what ships (`npm start`, the `tenantry` bin): this file builds it once
 * (`npm run build`) and runs it — at least one real spawned run of `node dist/src/cli/main.js` per command
 * group (db, tenants, backup), and the server in cluster mode (WEB_CONCURRENCY=2: two workers answer on
 * one port, SIGTERM stops both gracefully, exit 0). The other CLI tests run the sources in-process (fast,
 * measured by coverage); a build that fails to start, misses the migration sources or resolves a module
 * differently fails here.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { eventually } from '../faults/support.ts';
import { buildDist, runBuiltCli } from '../helpers/built.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';
import { type ServerProcess, spawnServer } from '../helpers/server.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);
const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
const head = revisions.at(-1)!;
const env = { DATABASE_URL: core.database.url };

// tsc on a loaded 2-core machine: minutes for a clean build, seconds for an incremental one.
beforeAll(() => buildDist(), 300_000);

const logLines = (server: ServerProcess) =>
  server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; pid: number });

const refused = (url: string) =>
  fetch(`${url}/health`).then(
    () => false,
    () => true,
  );

describe('node dist/src/cli/main.js, one real process per command group', { timeout: 90_000 }, () => {
  it('db: upgrade a tenant behind head, then check --all passes', async () => {
    await core.tenants.create({ name: 'built_db', tenantId: 'built_db' });
    const target = { host: DEFAULT_HOST, db, schema: 'built_db' };
    await core.tenantRunner.downgrade(target, { to: revisions.at(-2) });
    await core.registry.recordMigration('built_db', {
      revision: revisions.at(-2)!,
      status: 'ok',
      error: null,
    });

    const behind = await runBuiltCli(['db', 'check', '--all', '--json'], env);
    expect(behind.code, behind.stderr).toBe(1);
    const upgrade = await runBuiltCli(['db', 'upgrade', 'head', '--tenant', 'built_db', '--json'], env);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ schema: 'built_db', to: head, dryRun: false });
    expect((await core.tenantRunner.status(target)).current).toBe(head);
    // The build carries the migration sources: checksums match what the sources recorded.
    const check = await runBuiltCli(['db', 'check', '--all', '--json'], env);
    expect(check.code, check.stdout).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true });
  });

  it('tenants: create, list, delete', async () => {
    const created = await runBuiltCli(['tenants', 'create', '--name', 'Zażółć Built', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const tenantId = JSON.parse(created.stdout).tenant_id as string;
    expect(tenantId).toMatch(/^zazolc_built_[0-9a-f]{12}$/);
    expect(await core.registry.find(tenantId)).toMatchObject({ status: 'active', revision: head });

    const list = await runBuiltCli(['tenants', 'list', '--json'], env);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((t: { tenant_id: string }) => t.tenant_id)).toContain(tenantId);

    const deleted = await runBuiltCli(['tenants', 'delete', tenantId, '--confirm', tenantId], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await core.registry.find(tenantId)).toBeUndefined();
  });

  it('backup: a tenant backup is stored and listed', async () => {
    await core.tenants.create({ name: 'built_bk', tenantId: 'built_bk' });
    const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-built-backup-'));
    onFileEnd(() => rm(folder, { recursive: true, force: true }));
    const store = path.join(folder, 'store');
    const parsed = new URL(core.database.url);
    const config = path.join(folder, 'built.config');
    await writeFile(
      config,
      [
        '[setup]',
        'storage_engine = LOCAL',
        '[local_storage]',
        `path = ${store}`,
        '[postgresql]',
        `host = ${parsed.hostname}`,
        `port = ${parsed.port}`,
        `db = ${parsed.pathname.slice(1)}`,
        `user = ${decodeURIComponent(parsed.username)}`,
        `password = ${decodeURIComponent(parsed.password)}`,
        '',
      ].join('\n'),
    );
    const backup = await runBuiltCli(
      ['backup', '--configfile', config, '--action', 'backup', '--tenant', 'built_bk'],
      {},
    );
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^stored \S+--tenant-built_bk--\S+\.dump/);
    const stored = await readdir(store);
    expect(stored.filter((name) => name.endsWith('.dump'))).toHaveLength(1);

    const list = await runBuiltCli(['backup', '--configfile', config, '--action', 'list'], {});
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('--tenant-built_bk--');
  });
});

describe('cluster mode (node dist/src/server.js)', { timeout: 90_000 }, () => {
  it('WEB_CONCURRENCY=2: two workers answer on one port; SIGTERM stops both, exit 0', async () => {
    const server = await spawnServer(
      { ...env, MIGRATE_TENANTS_ON_START: 'off', WEB_CONCURRENCY: '2' },
      undefined,
      { built: true },
    );
    await eventually('both workers listen', async () =>
      Promise.resolve(
        logLines(server).filter((line) => line.msg.startsWith('Server listening')).length === 2,
      ),
    );
    const workers = new Set(
      logLines(server)
        .filter((line) => line.msg.startsWith('Server listening'))
        .map((line) => line.pid),
    );
    expect(workers.size).toBe(2);
    expect(workers.has(server.child.pid!)).toBe(false);

    // New connections are shared between the workers (round robin): both answer on the one port.
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`${server.url}/health`, { headers: { connection: 'close' } });
      expect(response.status).toBe(200);
    }
    await eventually('both workers answered', async () => {
      const answered = new Set(
        logLines(server)
          .filter((line) => line.msg === 'request completed')
          .map((line) => line.pid),
      );
      return [...workers].every((pid) => answered.has(pid));
    });

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const stopped = new Set(
      logLines(server)
        .filter((line) => line.msg.startsWith('shutting down: no new connections'))
        .map((line) => line.pid),
    );
    expect(stopped).toEqual(workers);
    for (const pid of workers) expect(alive(pid), `worker ${pid}`).toBe(false);
    expect(await refused(server.url)).toBe(true);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
