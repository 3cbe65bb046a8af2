/**
 * Shared bits of the tenancy and control-center tests: random tenant ids and a test-only tenant route
 * (auth and domain routes do not exist yet) that reads through `request.tenant.db`.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { App } from '../../src/app.ts';
import type { AnyDb } from '../../src/db/hosts.ts';
import { withTenant } from '../../src/tenancy/tenant-plugin.ts';
import { type TestAppOptions, testApp } from '../helpers/core.ts';

export const randomTenantId = (prefix = 't') => `${prefix}_${randomBytes(5).toString('hex')}`;

/** GET /_test/roles: the tenant's role names, read with `request.tenant.db` (schema-qualified). */
const probe: FastifyPluginAsyncTypebox = async (scope) => {
  scope.get(
    '/_test/roles',
    { schema: { headers: Type.Object({ tenant: Type.String() }) } },
    async (request) => {
      const rows = await request.tenant.db.selectFrom('roles').select('name').orderBy('name').execute();
      return {
        tenant: request.tenant.id,
        host: request.tenant.host,
        schema: request.tenant.schema,
        roles: rows.map((row) => String(row.name)),
      };
    },
  );
};
export const tenantProbeRoutes = withTenant(probe);

export async function withProbe(app: App): Promise<void> {
  await app.register(tenantProbeRoutes);
}

export async function schemaExists(db: AnyDb, schema: string): Promise<boolean> {
  const result = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ${schema}`.execute(db);
  return result.rows[0]!.n === 1;
}

/** Every tenant-ish schema on a host (excludes the system and public schemas). */
export async function tenantSchemas(db: AnyDb): Promise<string[]> {
  const result = await sql<{ nspname: string }>`
    SELECT nspname FROM pg_namespace
    WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
    ORDER BY nspname`.execute(db);
  return result.rows.map((row) => row.nspname);
}

/**
 * The tenancy and control-center tests' app: `testApp` with the overload guard's event-loop checks off.
 * These tests are not about overload, and on a machine loaded by parallel test files (and spawned CLIs)
 * a one-second event-loop sample can cross the production limits and turn any request into a 503.
 */
export const NO_OVERLOAD_CHECKS = { maxEventLoopDelay: 0, maxEventLoopUtilization: 0 };
export const tenancyApp = (options: TestAppOptions = {}) =>
  testApp({ pressure: NO_OVERLOAD_CHECKS, ...options });
