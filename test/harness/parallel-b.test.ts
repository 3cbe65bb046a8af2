/**
 * Proves the harness contract: test files run in parallel, each on its own database. This file and
 * parallel-a.test.ts meet at a barrier in the admin database (so they must be running at the same
 * time), then check that neither sees the other's data.
 */
import { describe, expect, it } from 'vitest';
import { BARRIER_TIMEOUT_MS, meetAtBarrier } from '../helpers/barrier.ts';
import { testCore } from '../helpers/core.ts';

describe('harness isolation (b)', () => {
  it(
    'runs at the same time as parallel-a on a different database',
    async () => {
      const core = await testCore();
      const pool = core.hosts.pool();
      await pool.query('CREATE TABLE marker_b (id int)');
      const peers = await meetAtBarrier('harness-parallel', 'b', core.database.name, 2);
      expect(peers.map((p) => p.member).sort()).toEqual(['a', 'b']);
      const otherDatabase = peers.find((p) => p.member === 'a')!.database;
      expect(otherDatabase).not.toBe(core.database.name);
      const seen = await pool.query("SELECT to_regclass('public.marker_a') IS NOT NULL AS present");
      expect(seen.rows[0].present).toBe(false);
      expect((await pool.query('SELECT current_database() AS db')).rows[0].db).toBe(core.database.name);
    },
    BARRIER_TIMEOUT_MS + 10_000,
  );
});
