/**
 * The warm pool of tenant schemas (src/tenancy/schema-pool.ts, issue 15): creation claims a schema built
 * ahead, whose catalog equals a freshly built one (the drift comparison); 30 concurrent creations take
 * 30 different schemas; an empty pool falls back to building; a pool schema behind head is not claimed
 * until a refill has brought it to head.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot, compareSnapshots, referenceSnapshot } from '../../src/migrations/drift.ts';
import { listOrphanSchemas } from '../../src/tenancy/orphans.ts';
import { SchemaPool } from '../../src/tenancy/schema-pool.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore({ env: { SCHEMA_POOL_SIZE: '30' } });
const db = core.hosts.db(DEFAULT_HOST);

async function pooledSchemas(): Promise<string[]> {
  const rows = await sql<{ nspname: string }>`
    SELECT nspname FROM pg_namespace WHERE nspname LIKE '\\_pool\\_%' ORDER BY nspname`.execute(db);
  return rows.rows.map((r) => r.nspname);
}

describe('warm pool of tenant schemas', { timeout: 300_000 }, () => {
  it('30 concurrent creations claim 30 different schemas, each with the catalog of a fresh one; empty → built', async () => {
    expect(await core.schemaPool.refill()).toEqual({ upgraded: 0, created: 30 });
    const waiting = await pooledSchemas();
    expect(waiting).toHaveLength(30);
    // Not tenants: no registry row, not reported as orphans.
    expect(await core.registry.list({})).toHaveLength(0);
    expect(await listOrphanSchemas(core.hosts, core.registry)).toEqual([]);

    const ids = Array.from({ length: 30 }, (_, i) => `pooled_${i}`);
    const created = await Promise.all(
      ids.map((tenantId) => core.tenants.create({ name: tenantId, tenantId })),
    );
    // Every one claimed (nothing built), every pool schema renamed exactly once.
    expect(created.map((c) => c.migration.steps.length)).toEqual(ids.map(() => 0));
    expect(await pooledSchemas()).toEqual([]);
    expect(await core.schemaPool.count()).toBe(0);
    const schemas = await sql<{ nspname: string }>`
      SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pooled\\_%'`.execute(db);
    expect(schemas.rows.map((r) => r.nspname).sort()).toEqual([...ids].sort());

    // Empty pool: the next creation builds its schema, as without a pool.
    const fresh = await core.tenants.create({ name: 'Built fresh', tenantId: 'built_fresh' });
    expect(fresh.migration.steps.length).toBeGreaterThan(0);

    // The drift comparison: a claimed schema's catalog is a fresh one's, and the reference at head.
    const reference = await referenceSnapshot(core.hosts, DEFAULT_HOST, core.tenantRunner);
    const freshCatalog = await catalogSnapshot(db, 'built_fresh');
    expect(compareSnapshots(reference, freshCatalog)).toEqual({ missing: [], unexpected: [] });
    for (const tenantId of [ids[0]!, ids[29]!]) {
      const claimed = await catalogSnapshot(db, tenantId);
      expect(compareSnapshots(freshCatalog, claimed)).toEqual({ missing: [], unexpected: [] });
    }
    expect((await core.tenantRunner.status({ host: DEFAULT_HOST, db, schema: ids[0]! })).current).toBe(
      core.tenantRunner.set.head,
    );
  });

  it('a pool schema behind head is not claimed; the refill brings it to head, then it is', async () => {
    const small = new SchemaPool(core.hosts, core.tenantRunner, 1);
    expect(await small.refill()).toEqual({ upgraded: 0, created: 1 });
    const [pooled] = await pooledSchemas();
    const revisions = core.tenantRunner.set.migrations.map((m) => m.revision);
    const previous = revisions.at(-2)!;
    // As after a deploy that adds a revision: the pool schema is one behind the code's head.
    await core.tenantRunner.downgrade({ host: DEFAULT_HOST, db, schema: pooled! }, { to: previous });
    await sql`UPDATE public.schema_pool SET revision = ${previous} WHERE schema = ${pooled}`.execute(db);

    const built = await core.tenants.create({ name: 'Behind', tenantId: 'not_from_pool' });
    expect(built.migration.steps.length).toBeGreaterThan(0);
    expect(await pooledSchemas()).toEqual([pooled]);

    expect(await small.refill()).toEqual({ upgraded: 1, created: 0 });
    const claimed = await core.tenants.create({ name: 'Caught up', tenantId: 'from_pool' });
    expect(claimed.migration.steps).toEqual([]);
    expect(await pooledSchemas()).toEqual([]);
    const catalog = await catalogSnapshot(db, 'from_pool');
    expect(compareSnapshots(await catalogSnapshot(db, 'not_from_pool'), catalog)).toEqual({
      missing: [],
      unexpected: [],
    });
  });
});
