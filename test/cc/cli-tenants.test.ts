import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { collect, runCli, spawnCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';
import { randomTenantId, schemaExists } from '../tenancy/helpers.ts';

// The CLI runs in this process (runCli: the command line's real entry, runTenantry); only the SIGKILL
// test spawns it (tsx: seconds on a busy 2-core machine, hence the budget). The production build's bin is
// spawned in test/built/production-build.test.ts.
describe('tenantry tenants (CLI in-process; SIGKILL spawns it)', { timeout: 120_000 }, () => {
  it('create → list → show → delete, with JSON output, help and exit codes', async () => {
    const core = await testCore();
    const env = { DATABASE_URL: core.database.url };
    const [a, b] = [randomTenantId('cli'), randomTenantId('cli')];

    const createdA = await runCli(['tenants', 'create', '--name', 'Acme Corp', '--schema', a], env);
    const createdB = await runCli(['tenants', 'create', '--name', 'Beta', '--schema', b, '--json'], env);
    expect(createdA.stderr).toBe('');
    expect(createdA.code).toBe(0);
    expect(createdA.stdout).toContain(`created tenant ${a} (Acme Corp) on host default`);
    expect(createdB.code).toBe(0);
    expect(JSON.parse(createdB.stdout)).toMatchObject({ tenant_id: b, status: 'active', behind: 0 });

    const list = await runCli(['tenants', 'list'], env);
    const listJson = await runCli(['tenants', 'list', '--json'], env);
    const show = await runCli(['tenants', 'show', a, '--json'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/TENANT\s+NAME\s+HOST\s+STATUS\s+REVISION\s+BEHIND\s+MIGRATION/);
    expect(list.stdout).toContain(a);
    expect(list.stdout).toContain('2 tenant(s)');
    expect(
      JSON.parse(listJson.stdout)
        .map((t: { tenant_id: string }) => t.tenant_id)
        .sort(),
    ).toEqual([a, b].sort());
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown.history).toHaveLength(core.tenantRunner.set.migrations.length);
    expect(shown.history.every((h: { applied_at: string | null }) => h.applied_at !== null)).toBe(true);

    const duplicate = await runCli(['tenants', 'create', '--name', 'Again', '--schema', a], env);
    const badId = await runCli(['tenants', 'create', '--name', 'X', '--schema', 'a;drop schema public'], env);
    const badHost = await runCli(['tenants', 'create', '--name', 'X', '--host', 'mars'], env);
    const noName = await runCli(['tenants', 'create', '--schema', randomTenantId()], env);
    const noConfirm = await runCli(['tenants', 'delete', a], env);
    const wrongConfirm = await runCli(['tenants', 'delete', a, '--confirm', b], env);
    const unknownCommand = await runCli(['tenants', 'rename', a], env);
    expect([duplicate.code, duplicate.stderr]).toEqual([1, `tenantry: tenant "${a}" already exists\n`]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('--schema');
    expect(badHost.code).toBe(2);
    expect(badHost.stderr).toContain('unknown database host "mars"');
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('--name is required');
    expect(noConfirm.code).toBe(2);
    expect(noConfirm.stderr).toContain(`--confirm ${a}`);
    expect(wrongConfirm.code).toBe(2);
    expect(unknownCommand.code).toBe(2);
    expect(await schemaExists(core.hosts.db(), a)).toBe(true);
    expect((await core.registry.list()).length).toBe(2);

    const deleted = await runCli(['tenants', 'delete', a, '--confirm', a], env);
    expect([deleted.code, deleted.stdout]).toEqual([0, `deleted tenant ${a}\n`]);
    expect(await schemaExists(core.hosts.db(), a)).toBe(false);
    expect(await core.registry.find(a)).toBeUndefined();
    const gone = await runCli(['tenants', 'show', a], env);
    const missingDelete = await runCli(['tenants', 'delete', a, '--confirm', a], env);
    // A tenant that does not exist is exit 2 in every command group (test/cli/exit-codes.test.ts).
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('does not exist');
    expect(missingDelete.code).toBe(2);
  });

  it('--help on the group and every command exits 0 with usage', async () => {
    const offline = { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' };
    const helps = [];
    for (const command of [[], ['create'], ['list'], ['show'], ['delete']]) {
      helps.push(await runCli(['tenants', ...command, '--help'], offline));
    }
    for (const help of helps) {
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: tenantry tenants');
    }
    const bare = await runCli(['tenants'], offline);
    expect(bare.code).toBe(2);
  });

  it('SIGKILL during tenant creation leaves no registry row and no schema', async () => {
    const core = await testCore();
    const id = randomTenantId('killed');
    // Hold a lock the creation needs for its registry row, so the CLI stalls inside its transaction,
    // after the schema and its tables were created.
    const blocker = new pg.Client({ connectionString: core.database.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE public.tenants IN EXCLUSIVE MODE');
      const child = spawnCli(['tenants', 'create', '--name', 'Killed', '--schema', id], {
        DATABASE_URL: core.database.url,
      });
      const finished = collect(child);
      await vi.waitFor(
        async () => {
          const waiting = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%insert into%tenants%'`.execute(
            core.hosts.db(),
          );
          expect(waiting.rows[0]!.n).toBe(1);
        },
        { timeout: 20_000, interval: 50 },
      );
      // The schema exists inside the CLI's open transaction: creation is genuinely half-way.
      const locks = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE a.datname = current_database() AND l.locktype = 'advisory' AND l.granted`.execute(
        core.hosts.db(),
      );
      expect(locks.rows[0]!.n).toBe(1);
      child.kill('SIGKILL');
      expect((await finished).signal).toBe('SIGKILL');
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    // The orphaned backend rolls back once it finds its client gone.
    await vi.waitFor(
      async () => {
        const left = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'tenantry' AND pid <> pg_backend_pid()
            AND state <> 'idle'`.execute(core.hosts.db());
        expect(left.rows[0]!.n).toBe(0);
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(await core.registry.find(id)).toBeUndefined();
    expect(await schemaExists(core.hosts.db(), id)).toBe(false);
  });
});
