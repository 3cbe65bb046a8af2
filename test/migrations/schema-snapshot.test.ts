/**
 * The committed catalog of a tenant schema (and of the public schema) at head. A migration that changes
 * the schema changes this file, so every schema change shows up in review. After an intended change:
 * `npx vitest run test/migrations/schema-snapshot.test.ts -u` and commit the new snapshot.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { testCore } from '../helpers/core.ts';

const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);

describe('schema snapshots', () => {
  it('a tenant migrated to head matches the committed snapshot', async () => {
    await core.tenantRunner.upgrade({ host: DEFAULT_HOST, db, schema: 'snapshot_tenant' });
    const lines = await catalogSnapshot(db, 'snapshot_tenant');
    await expect(`${lines.join('\n')}\n`).toMatchFileSnapshot('./__snapshots__/tenant-schema.txt');
  });

  it('the public schema at head matches the committed snapshot', async () => {
    const lines = await catalogSnapshot(db, 'public');
    await expect(`${lines.join('\n')}\n`).toMatchFileSnapshot('./__snapshots__/public-schema.txt');
  });

  it('the revision chain matches the files on disk', () => {
    for (const set of [core.publicRunner.set, core.tenantRunner.set]) {
      const names = set.migrations.map((m) => m.name);
      expect(names).toEqual([...names].sort());
      set.migrations.forEach((m, i) => {
        expect(m.name).toContain(`-${m.revision}_`);
        expect(m.follows).toBe(i === 0 ? null : set.migrations[i - 1]!.revision);
      });
    }
  });
});
