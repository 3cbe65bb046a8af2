/**
 * The status lines behind `tenantry db current` and `check`: one schema read through the runner, or the
 * whole fleet through one version query per host (src/migrations/fleet.ts).
 */
import type { Core } from '../core.ts';
import { DEFAULT_HOST } from '../db/hosts.ts';
import { readVersionsOnHost } from '../migrations/fleet.ts';
import type { MigrationRunner, SchemaTarget } from '../migrations/runner.ts';
import { findTenantOrThrow } from '../tenancy/tenant-migrations.ts';

export const publicTarget = (core: Core): SchemaTarget => ({
  host: DEFAULT_HOST,
  db: core.hosts.db(DEFAULT_HOST),
  schema: 'public',
});

export interface StatusLine {
  schema: string;
  host: string;
  current: string | null;
  head: string | null;
  behind: number;
  migration_status?: string;
  error?: string | null;
  unknown: string[];
  drifted: string[];
}

export async function statuses(core: Core, tenant: string | undefined, all: boolean): Promise<StatusLine[]> {
  const lines: StatusLine[] = [];
  const add = async (runner: MigrationRunner, target: SchemaTarget, extra: Partial<StatusLine> = {}) => {
    const status = await runner.status(target);
    lines.push({
      schema: target.schema,
      host: target.host,
      current: status.current,
      head: status.head,
      behind: status.behind,
      unknown: status.unknown,
      drifted: status.drifted,
      ...extra,
    });
  };
  if (tenant === 'public' || tenant === undefined) await add(core.publicRunner, publicTarget(core));
  if (tenant !== undefined && tenant !== 'public') {
    const row = await findTenantOrThrow(core, tenant);
    await add(
      core.tenantRunner,
      { host: row.host, db: core.hosts.db(row.host), schema: row.tenant_id },
      { migration_status: row.migration_status, error: row.migration_error },
    );
  }
  if (all) {
    // The cheap path: one query per host for every tenant's version table.
    const head = core.tenantRunner.set.head;
    const headCount = core.tenantRunner.set.migrations.length;
    const tenants = await core.registry.list({ statuses: ['active', 'suspended'] });
    const hostsInUse = [...new Set(tenants.map((t) => t.host))];
    for (const host of hostsInUse) {
      const group = tenants.filter((t) => t.host === host);
      const versions = core.hosts.has(host)
        ? await readVersionsOnHost(
            core.hosts,
            host,
            group.map((t) => t.tenant_id),
            head,
          )
        : new Map();
      for (const t of group) {
        const version = versions.get(t.tenant_id);
        const atHead =
          version !== undefined && version.applied === headCount && (head === null || version.hasTarget);
        const current =
          version && version.applied <= headCount && version.applied > 0
            ? (core.tenantRunner.set.migrations[version.applied - 1]?.revision ?? null)
            : null;
        lines.push({
          schema: t.tenant_id,
          host,
          current: atHead ? head : current,
          head,
          behind: atHead ? 0 : Math.max(headCount - (version?.applied ?? 0), 1),
          migration_status: t.migration_status,
          error: t.migration_error,
          unknown: version && version.applied > headCount ? ['(more revisions than the code knows)'] : [],
          drifted: [],
        });
      }
    }
  }
  return lines;
}
