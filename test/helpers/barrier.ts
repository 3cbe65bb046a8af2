/**
 * A rendezvous for tests in different files (different worker processes): each member registers in a
 * table of the admin database and waits until `size` members of the same run have arrived.
 *
 * The wait is long on purpose: the other member starts only when a worker is free, which on a busy
 * machine can take a good part of the suite (a 20 s wait once gave up while the peer was still queued).
 */
export const BARRIER_TIMEOUT_MS = 150_000;

import pg from 'pg';
import { inject } from 'vitest';

export interface BarrierMember {
  member: string;
  database: string;
}

export async function meetAtBarrier(
  barrier: string,
  member: string,
  database: string,
  size: number,
  timeoutMs = BARRIER_TIMEOUT_MS,
) {
  const name = `${inject('runId')}:${barrier}`;
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    await client
      .query(
        `CREATE TABLE IF NOT EXISTS test_barriers (name text, member text, database text, PRIMARY KEY (name, member))`,
      )
      .catch(() => {});
    await client.query(
      'INSERT INTO test_barriers VALUES ($1, $2, $3) ON CONFLICT (name, member) DO UPDATE SET database = $3',
      [name, member, database],
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query<BarrierMember>(
        'SELECT member, database FROM test_barriers WHERE name = $1',
        [name],
      );
      if (rows.length >= size) return rows;
      if (Date.now() > deadline)
        throw new Error(`barrier ${name}: only ${rows.length} of ${size} members arrived`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await client.end();
  }
}
