/**
 * A tenant move killed at each of its steps (issue 17): the CLI moving the tenant is SIGKILLed at an
 * injected crash point (TENANTRY_MOVE_CRASH_AT, read only by the move engine's crash points) while a
 * writer keeps writing through the app. Right after the kill the tenant has all its data and the registry
 * names one host; `--resume` then finishes (or undoes and redoes) the move; afterwards one host serves
 * it with every acknowledged write, and no publication, subscription, slot or tombstone is left.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { moveToResume, runMove } from '../../src/tenancy/moves/move-engine.ts';
import { collect, spawnCli } from '../helpers/cli.ts';
import { SECOND_HOST } from '../helpers/core.ts';
import {
  core,
  createOnSecondHost,
  expectNoLeftovers,
  expectServedFromOneHost,
  startWriter,
  writtenRows,
} from '../tenancy/move-helpers.ts';

const env = () => ({
  DATABASE_URL: core.hosts.url(DEFAULT_HOST),
  TENANT_DATABASE_URLS: JSON.stringify({ [SECOND_HOST]: core.hosts.url(SECOND_HOST) }),
  // A machine busy with parallel test files can be slow to hand out connections.
  DATABASE_POOL_WAIT_MS: '30000',
});

async function seedCount(host: string, schema: string): Promise<number> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM ${sql.id(schema)}.roles WHERE name LIKE 'SEED%'`.execute(
    core.hosts.db(host),
  );
  return result.rows[0]!.n;
}

describe('a tenant move killed at every step', { timeout: 300_000 }, () => {
  const cases = [
    ['logical', 'copy'],
    ['logical', 'catchup'],
    ['logical', 'switch'],
    ['logical', 'switched-source'],
    ['logical', 'drop'],
    ['dump', 'copy'],
  ] as const;

  it.each(cases)(
    '%s move killed at %s: one host with all data, then --resume finishes it',
    async (method, point) => {
      const tenant = await createOnSecondHost();
      const writes = startWriter(tenant, 2);
      let outcome: Awaited<ReturnType<typeof writes.stop>> | undefined;
      try {
        await new Promise((r) => setTimeout(r, 200));
        const child = spawnCli(['tenants', 'move', tenant, '--to', DEFAULT_HOST, '--method', method], {
          ...env(),
          TENANTRY_MOVE_CRASH_AT: point,
        });
        const killed = await collect(child);
        expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');

        // Right after the kill the registry names one host and that host has all the data (a partial copy
        // on the target is not served). The one exception is the instant between retiring the source copy
        // and switching the registry: the verified copy on the target holds everything and the tenant
        // answers 503 + Retry-After until the move is resumed (by --resume, the job, or the reconciler).
        const row = (await core.registry.find(tenant))!;
        const expected = point === 'drop' ? DEFAULT_HOST : SECOND_HOST;
        expect(row.host).toBe(expected);
        expect(await seedCount(point === 'switched-source' ? DEFAULT_HOST : row.host, tenant)).toBe(49);

        const move = await moveToResume(core, tenant);
        const result = await runMove(core, move.id);
        expect(result, result.error ?? '').toMatchObject({ state: 'done', to: DEFAULT_HOST });
      } finally {
        outcome = await writes.stop();
      }
      const { acked, unexpected } = outcome;
      expect(unexpected).toEqual([]);
      expect(await expectServedFromOneHost(tenant)).toBe(DEFAULT_HOST);
      const present = await writtenRows(DEFAULT_HOST, tenant);
      expect(acked.filter((n) => !present.has(n))).toEqual([]);
      expect(await seedCount(DEFAULT_HOST, tenant)).toBe(49);
      await expectNoLeftovers();
    },
  );
});
