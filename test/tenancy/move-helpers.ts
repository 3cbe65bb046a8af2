/**
 * Shared parts of the tenant-move tests (issue 17): an app on two real servers (hosts `default` and
 * `eu2`) with a test-only write route, a concurrent writer that remembers every acknowledged write, and
 * the checks: served from exactly one host, nothing left behind.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import type pg from 'pg';
import { Type } from 'typebox';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { moveObjects, openClient } from '../../src/tenancy/moves/replication.ts';
import { withTenant } from '../../src/tenancy/tenant-plugin.ts';
import { SECOND_HOST } from '../helpers/core.ts';
import { randomTenantId, tenancyApp } from './helpers.ts';

/** POST /_test/write {n}: one role row W<n> through `request.tenant.db` (an identity column: sequences). */
const writer: FastifyPluginAsyncTypebox = async (scope) => {
  scope.post(
    '/_test/write',
    { schema: { body: Type.Object({ n: Type.Integer() }) } },
    async (request, reply) => {
      await request.tenant.db
        .insertInto('roles')
        .values({ name: `W${request.body.n}`, title: 'written during a move' })
        .execute();
      return reply.code(201).send({ host: request.tenant.host });
    },
  );
};

export const app = await tenancyApp({
  secondHost: true,
  setup: async (a: App) => {
    await a.register(withTenant(writer));
  },
});
export const { core } = app;

/** Numbers of W<n> rows, unique over the file. */
let next = 0;

/** Writes W<n> with `workers` clients until stopped; returns what was acknowledged and anything odd. */
export function startWriter(tenant: string, workers = 4) {
  const acked: number[] = [];
  const unexpected: string[] = [];
  let refused = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const n = next++;
      const response = await app.inject({
        method: 'POST',
        url: '/_test/write',
        headers: { tenant },
        payload: { n },
      });
      if (response.statusCode === 201) acked.push(n);
      else if (response.statusCode === 503 && response.headers['retry-after']) refused++;
      else if (unexpected.length < 5) unexpected.push(`${response.statusCode} ${response.body}`);
    }
  };
  const running = Promise.all(Array.from({ length: workers }, loop));
  return {
    async stop() {
      // Some writes after the switch, on the new host, before stopping.
      const target = acked.length + 20;
      const deadline = Date.now() + 20_000;
      while (acked.length < target && unexpected.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      stop = true;
      await running;
      return { acked, unexpected, refused };
    },
  };
}

export async function writtenRows(host: string, tenant: string): Promise<Set<number>> {
  const rows = await sql<{
    name: string;
  }>`SELECT name FROM ${sql.id(tenant)}.roles WHERE name LIKE 'W%'`.execute(core.hosts.db(host));
  return new Set(rows.rows.map((row) => Number(row.name.slice(1))));
}

async function clients(): Promise<pg.Client[]> {
  return Promise.all([DEFAULT_HOST, SECOND_HOST].map((host) => openClient(core.hosts.url(host), 'test')));
}

/** Nothing a move makes is left on either host: publications, subscriptions, slots, tombstones. */
export async function expectNoLeftovers(): Promise<void> {
  for (const client of await clients()) {
    try {
      expect(await moveObjects(client)).toEqual({ publications: [], subscriptions: [], slots: [] });
      const tombstones = await client.query(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE '\\_tenantry\\_moved%'",
      );
      expect(tombstones.rows).toEqual([]);
    } finally {
      await client.end();
    }
  }
}

/** The tenant's schema exists on exactly the host its registry row names. */
export async function expectServedFromOneHost(tenant: string): Promise<string> {
  const row = (await core.registry.find(tenant))!;
  for (const host of [DEFAULT_HOST, SECOND_HOST]) {
    const found = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ${tenant}`.execute(core.hosts.db(host));
    expect(found.rows[0]!.n, `schema on ${host}`).toBe(host === row.host ? 1 : 0);
  }
  return row.host;
}

export async function createOnSecondHost(): Promise<string> {
  const tenant = randomTenantId('mv');
  await core.tenants.create({ name: 'Mover', tenantId: tenant, host: SECOND_HOST });
  // Some history: rows in several tables, a deleted row, an updated one.
  const db = core.hosts.db(SECOND_HOST);
  await sql`INSERT INTO ${sql.id(tenant)}.roles (name, title) SELECT 'SEED' || g, 'seed' FROM generate_series(1, 50) g`.execute(
    db,
  );
  await sql`DELETE FROM ${sql.id(tenant)}.roles WHERE name = 'SEED7'`.execute(db);
  await sql`UPDATE ${sql.id(tenant)}.roles SET description = 'changed' WHERE name = 'SEED8'`.execute(db);
  return tenant;
}
