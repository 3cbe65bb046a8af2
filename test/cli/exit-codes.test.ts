/**
 * One exit code for one situation in every command group (issue 20): an argument that names nothing — a
 * tenant, domain, job or backup that does not exist — is 2 (bad arguments) everywhere; something that
 * exists but cannot be done now (an id taken, a job running) is 1.
 */
import { describe, expect, it } from 'vitest';
import { postgresSection, tempFolder, writeConfig } from '../backup/helpers.ts';
import { runCli } from '../helpers/cli.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const env = { DATABASE_URL: core.database.url };
const existing = 'exit_codes_acme';
await core.tenants.create({ name: 'Exit codes', tenantId: existing });

describe('a tenant, domain, job or backup that does not exist is exit 2 in every group', () => {
  it.each([
    [['db', 'upgrade', 'head', '--tenant', 'nobody']],
    [['db', 'downgrade', '-1', '--tenant', 'nobody']],
    [['db', 'current', '--tenant', 'nobody']],
    [['db', 'check', '--tenant', 'nobody']],
    [['db', 'history', '--tenant', 'nobody']],
    [['tenants', 'show', 'nobody']],
    [['tenants', 'delete', 'nobody', '--confirm', 'nobody']],
    [['tenants', 'domains', 'list', 'nobody']],
    [['tenants', 'domains', 'add', 'nobody', 'nobody.example.com']],
    [['tenants', 'domains', 'remove', existing, 'not-there.example.com']],
    [['jobs', 'show', '987654321']],
    [['jobs', 'retry', '987654321']],
    [['jobs', 'cancel', '987654321']],
    [['jobs', 'show', '00000000-0000-4000-8000-000000000000']],
    [['jobs', 'cancel', '00000000-0000-4000-8000-000000000000']],
  ])('%j', async (args) => {
    const result = await runCli(args, env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/does not exist|not found|is not a domain of/i);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('backup: a tenant without backups, or a backup file that is not there', async () => {
    const folder = await tempFolder('exit-codes');
    const config = await writeConfig(folder, {
      setup: { storage_engine: 'LOCAL' },
      local_storage: { path: folder },
      postgresql: postgresSection(core.database.url),
    });
    for (const args of [
      ['backup', '--configfile', config, '--action', 'restore', '--file', 'nothing-here.dump'],
      ['backup', '--configfile', config, '--action', 'restore', '--date', '2026-01-01', '--tenant', existing],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(2);
    }
  });
});

describe('something that exists but cannot be done is exit 1', () => {
  it('creating a tenant whose id is taken, adding a domain another tenant holds', async () => {
    const taken = await runCli(['tenants', 'create', '--name', 'Again', '--schema', existing], env);
    expect(taken.code, taken.stderr).toBe(1);
    expect(taken.stderr).toContain('already exists');
    const added = await runCli(['tenants', 'domains', 'add', existing, 'exit-codes.example.com'], env);
    expect(added.code, added.stderr).toBe(0);
    const other = 'exit_codes_other';
    await core.tenants.create({ name: 'Other', tenantId: other });
    const clash = await runCli(['tenants', 'domains', 'add', other, 'exit-codes.example.com'], env);
    expect(clash.code, clash.stderr).toBe(1);
  });
});
