/**
 * `tenantry tenants domains add|remove|list` and `tenants create --domain/--db-host` (issue 21), run as
 * an operator would, against a per-file database.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';
import { randomTenantId } from '../tenancy/helpers.ts';

describe('tenantry tenants domains', { timeout: 120_000 }, () => {
  it('create with --domain, then add, list, remove; errors have the documented exit codes', async () => {
    const core = await testCore();
    const env = { DATABASE_URL: core.database.url, TENANT_BASE_DOMAIN: 'tasks.example.test' };
    const [a, b] = [randomTenantId('cli'), randomTenantId('cli')];

    const created = await runCli(
      [
        'tenants',
        'create',
        '--name',
        'Acme',
        '--schema',
        a,
        '--domain',
        'acme',
        '--domain',
        'Acme.Example.test',
      ],
      env,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('domains: acme.example.test, acme.tasks.example.test');

    // --host is the database host's deprecated spelling: still works, and says so.
    const deprecated = await runCli(
      ['tenants', 'create', '--name', 'Beta', '--schema', b, '--host', 'default'],
      env,
    );
    expect(deprecated.code).toBe(0);
    expect(deprecated.stderr).toContain('--host is deprecated');
    expect(deprecated.stdout).toContain('on host default');
    const unknownDb = await runCli(['tenants', 'create', '--name', 'C', '--db-host', 'nowhere'], env);
    expect(unknownDb.code).toBe(2);

    const added = await runCli(['tenants', 'domains', 'add', b, 'Bäckerei.example.test'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toBe(`added domain xn--bckerei-5wa.example.test to tenant ${b}\n`);
    const again = await runCli(['tenants', 'domains', 'add', b, 'xn--bckerei-5wa.example.test'], env);
    expect(again.stdout).toContain('already has domain');
    const taken = await runCli(['tenants', 'domains', 'add', b, 'acme'], env);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('domain "acme.tasks.example.test" already belongs to a tenant');
    const invalid = await runCli(['tenants', 'domains', 'add', b, '192.168.0.1'], env);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('IP address');
    const noTenant = await runCli(['tenants', 'domains', 'add', 'nobody_here', 'free.example.test'], env);
    expect(noTenant.code).toBe(2); // no such tenant: 2 in every group
    expect((await runCli(['tenants', 'domains', 'add', b], env)).code).toBe(2);
    expect((await runCli(['tenants', 'domains', 'rename', b, 'x.example'], env)).code).toBe(2);

    const list = await runCli(['tenants', 'domains', 'list', a, '--json'], env);
    expect(JSON.parse(list.stdout).items.map((d: { domain: string }) => d.domain)).toEqual([
      'acme.example.test',
      'acme.tasks.example.test',
    ]);
    const tenants = await runCli(['tenants', 'list'], env);
    expect(tenants.stdout).toMatch(/MIGRATION\s+DOMAINS/);
    expect(tenants.stdout).toContain('acme.example.test,acme.tasks.example.test');

    const removed = await runCli(['tenants', 'domains', 'remove', a, 'acme'], env);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('removed domain acme.tasks.example.test');
    const missing = await runCli(['tenants', 'domains', 'remove', a, 'acme'], env);
    expect(missing.code).toBe(2); // no such domain: 2 in every group
    const shown = await runCli(['tenants', 'show', a, '--json'], env);
    expect(JSON.parse(shown.stdout).domains).toEqual(['acme.example.test']);
  });
});
