/**
 * Keeps the tenant schema distributable by Citus 12's schema-based sharding (issue 17, docs/scaling.md),
 * as far as that can be checked without Citus (test/migrations/citus-checks.ts):
 *  - a tenant migrated to head has no foreign key, default, sequence, view or function that reaches into
 *    another schema (its catalog);
 *  - no tenant revision's SQL and no tenant route's SQL qualifies a name with another schema;
 *  - both checks catch a deliberately bad revision (applied to a scratch schema the way the runner applies
 *    revisions: search_path set to the schema) and bad route SQL, so they can fail.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { testCore } from '../helpers/core.ts';
import { randomTenantId } from '../tenancy/helpers.ts';
import { catalogProblems, extensionObjectsInPublic, qualifiedReferences, schemasOf } from './citus-checks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const core = await testCore();
const db = core.hosts.db(DEFAULT_HOST);

/** A revision body as text: SQL as written, a function revision's source. */
const bodyText = (body: string | ((...args: never[]) => unknown)) =>
  typeof body === 'string' ? body : body.toString();

async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(path.join(ROOT, folder), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('Citus schema-based sharding compatibility', { timeout: 120_000 }, () => {
  it('a tenant at head reaches into no other schema (catalog)', async () => {
    // A second tenant exists, so "another tenant's schema" is a real target.
    await core.tenants.create({ name: 'Neighbour', tenantId: randomTenantId('nb') });
    const { tenant } = await core.tenants.create({ name: 'Citus', tenantId: randomTenantId('citus') });
    expect(tenant.revision).toBe(core.tenantRunner.set.head);
    expect(await catalogProblems(db, tenant.tenant_id)).toEqual([]);
  });

  it('no tenant revision qualifies a name with another schema (up and down)', async () => {
    const schemas = await schemasOf(db);
    expect(schemas).toEqual(expect.arrayContaining(['public', 'graphile_worker', 'tenantry']));
    const allowed = await extensionObjectsInPublic(db);
    expect(allowed).toContain('gin_trgm_ops');
    const found = core.tenantRunner.set.migrations.flatMap((migration) =>
      [migration.up, migration.down].flatMap((body) =>
        qualifiedReferences(bodyText(body), schemas, allowed).map((ref) => `${migration.revision}: ${ref}`),
      ),
    );
    expect(found).toEqual([]);
  });

  it('no tenant route names a schema in its SQL (every tenant query goes through withSchema or t())', async () => {
    const files = await sourceFiles('src/routes');
    expect(files.length).toBeGreaterThan(10);
    const literalSchema = /withSchema\(\s*['"`]|sql\.table\(\s*`\$\{[^}]+\}\./;
    const found: string[] = [];
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      const refs = qualifiedReferences(text, ['graphile_worker', 'tenantry'], []).filter(
        (ref) =>
          ref.startsWith('graphile_worker.') || ref.startsWith('tenantry.') || /^public\.[a-z_]+$/.test(ref),
      );
      for (const ref of refs) found.push(`${path.relative(ROOT, file)}: ${ref}`);
      if (literalSchema.test(text))
        found.push(`${path.relative(ROOT, file)}: a literal schema in withSchema/sql.table`);
    }
    expect(found).toEqual([]);
    // …and the same check flags route SQL that reaches the registry.
    expect(qualifiedReferences('SELECT name FROM public.tenants t WHERE t.tenant_id = $1', [], [])).toEqual([
      'public.tenants',
    ]);
  });

  it('catches a deliberately bad revision applied to a scratch schema', async () => {
    const other = randomTenantId('other');
    const scratch = randomTenantId('scratch');
    await core.tenants.create({ name: 'Other', tenantId: other });
    // What a careless revision would do: reach into the registry, another tenant and a shared sequence.
    const badRevision = `
      CREATE SEQUENCE IF NOT EXISTS public.shared_counter;
      CREATE TABLE audit (
        id bigint PRIMARY KEY DEFAULT nextval('public.shared_counter'),
        tenant_row bigint REFERENCES public.tenants (id),
        neighbour_user bigint REFERENCES ${other}.users (id)
      );
      CREATE VIEW neighbour_users AS SELECT email FROM ${other}.users;
      CREATE FUNCTION neighbour_count() RETURNS bigint LANGUAGE plpgsql
        AS $$ BEGIN RETURN (SELECT count(*) FROM ${other}.users); END $$;
      CREATE FUNCTION registry_dynamic() RETURNS void LANGUAGE plpgsql
        AS $$ BEGIN EXECUTE 'DELETE FROM tenantry.jobs WHERE false'; END $$;
      CREATE FUNCTION actor_setting() RETURNS text LANGUAGE plpgsql
        AS $$ BEGIN RETURN current_setting('tenantry.actor', true); END $$;`;
    const schemas = await schemasOf(db);
    expect(qualifiedReferences(badRevision, schemas, await extensionObjectsInPublic(db))).toEqual(
      expect.arrayContaining(['public.shared_counter', 'public.tenants', `${other}.users`]),
    );
    await db
      .transaction()
      .execute(async (trx) => {
        await sql`CREATE SCHEMA ${sql.id(scratch)}`.execute(trx);
        await sql`SELECT set_config('search_path', ${scratch}, true)`.execute(trx);
        await sql.raw(badRevision).execute(trx);
        const problems = await catalogProblems(trx, scratch);
        expect(problems).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^foreign key audit_tenant_row_fkey references public\.tenants$/),
            expect.stringMatching(
              new RegExp(`^foreign key audit_neighbour_user_fkey references ${other}\\.users$`),
            ),
            expect.stringMatching(
              /default value for column id of table .*audit depends on public\.shared_counter$/,
            ),
            expect.stringMatching(
              new RegExp(`rule _RETURN on view .*neighbour_users depends on ${other}\\.users$`),
            ),
            expect.stringMatching(
              new RegExp(`^function ${scratch}\\.neighbour_count\\(\\) names schema ${other}$`),
            ),
            // Dynamic SQL in a string literal is still a reference…
            `function ${scratch}.registry_dynamic() names schema tenantry`,
          ]),
        );
        // …but a custom setting's name (`tenantry.actor`) is a session variable, not a schema.
        expect(problems.filter((problem) => problem.includes('actor_setting'))).toEqual([]);
        // Rolled back: the scratch schema and the shared sequence leave nothing behind.
        throw new RollBack();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollBack)) throw error;
      });
    expect(await schemasOf(db)).not.toContain(scratch);
  });
});

class RollBack extends Error {}
