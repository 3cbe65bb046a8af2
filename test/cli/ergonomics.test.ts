/**
 * The CLI as a person types it (issue 20): --version, "did you mean" for mistyped groups, commands,
 * options and choices, usage errors exit 2, and no stack trace unless --debug.
 */
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.ts';
import { runCli } from '../helpers/cli.ts';

describe('tenantry CLI ergonomics', () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag], {});
      expect(result).toMatchObject({ code: 0, stdout: `tenantry ${VERSION}\n` });
    }
  });

  it.each([
    [['tenant', 'list'], 'unknown command group "tenant" — did you mean "tenants"?'],
    [['tenants', 'lst'], 'unknown tenants command "lst" — did you mean "list"?'],
    [['db', 'upgrad', 'head'], 'unknown db command "upgrad" — did you mean "upgrade"?'],
    [['tenants', 'create', 'acme', '--nmae', 'Acme'], 'unknown option --nmae — did you mean --name?'],
    [['backup', '--action', 'lsit'], 'unknown --action "lsit" (did you mean "list"?): expected one of'],
  ])('%j suggests the right word and exits 2', async (args, message) => {
    const result = await runCli(args, {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('says nothing it cannot back: no suggestion for a word far from every command', async () => {
    const result = await runCli(['zebra'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command group "zebra"\n');
  });

  it('an unexpected failure prints one line, and its stack trace only with --debug', async () => {
    // Nothing listens on port 1: the connection fails inside the command.
    const env = { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' };
    const plain = await runCli(['tenants', 'list'], env);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^tenantry: .*ECONNREFUSED/);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await runCli(['tenants', 'list', '--debug'], env);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
