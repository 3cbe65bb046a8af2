/**
 * Repairs what a crash can leave half-done across two database hosts, where one transaction cannot
 * cover both (issue 13, "Crash-safe creation on another host"):
 *  - tenant creations and deletions on another host (`provisioning` / `deleting` registry rows):
 *    finished or undone by `TenantService.reconcileProvisioning`;
 *  - the e-mail directory (`public.accounts`, default host) of tenants on other hosts, written before the
 *    tenant transaction and compensated when it fails (src/auth/directory.ts): a crash between the two
 *    leaves a directory row without its user (the address blocked for ever) or a user without its row
 *    (who cannot sign in). `reconcileDirectory` makes the directory match the tenants' users again.
 *
 * Both only touch rows unchanged for `reconcileAfterS`, so work still running elsewhere is left alone.
 * They run as the job queue's `reconcile-tenants` task (src/jobs/jobs-plugin.ts): by cron every
 * RECONCILE_INTERVAL_S (once per tick across all processes) and once at each server start (a job with a
 * job key). A pass that overlaps another is still safe: every step is idempotent.
 */
import { sql } from 'kysely';
import type { Core } from '../core.ts';
import { DEFAULT_HOST } from '../db/hosts.ts';
import { finishInterruptedMoves } from './moves/move-engine.ts';

export interface ReconcileReport {
  finished: string[];
  undone: string[];
  /** Directory rows removed (no such live user), added (user without a row) or re-pointed (e-mail). */
  directory: { removed: number; added: number; changed: number };
  /** Tenants whose interrupted move was finished. */
  moved?: string[];
}

/** Makes the directory rows of tenants on other hosts match their live users. */
export async function reconcileDirectory(
  core: Core,
  olderThanSeconds: number,
): Promise<ReconcileReport['directory']> {
  const counts = { removed: 0, added: 0, changed: 0 };
  const directory = core.hosts.db(DEFAULT_HOST);
  for (const host of core.hosts.names()) {
    if (host === DEFAULT_HOST) continue;
    const tenants = await core.registry.list({ host, statuses: ['active', 'suspended'] });
    for (const tenant of tenants) {
      const users = await sql<{ uuid: string; email: string }>`
        SELECT uuid::text AS uuid, email FROM ${sql.id(tenant.tenant_id)}.users
        WHERE deleted_at IS NULL`.execute(core.hosts.db(host));
      const live = new Map(users.rows.map((u) => [u.uuid, u.email]));
      const rows = await sql<{ email: string; user_uuid: string; settled: boolean }>`
        SELECT email, user_uuid::text AS user_uuid,
               created_at < now() - make_interval(secs => ${olderThanSeconds}) AS settled
        FROM public.accounts WHERE tenant_id = ${tenant.tenant_id}`.execute(directory);
      const listed = new Set<string>();
      for (const row of rows.rows) {
        listed.add(row.user_uuid);
        const email = live.get(row.user_uuid);
        if (email === undefined) {
          if (!row.settled) continue;
          await sql`DELETE FROM public.accounts
                    WHERE email = ${row.email} AND tenant_id = ${tenant.tenant_id}`.execute(directory);
          counts.removed++;
        } else if (email !== row.email) {
          const changed = await sql`
            UPDATE public.accounts SET email = ${email}
            WHERE email = ${row.email} AND tenant_id = ${tenant.tenant_id}
              AND NOT EXISTS (SELECT 1 FROM public.accounts WHERE email = ${email})`.execute(directory);
          counts.changed += Number(changed.numAffectedRows ?? 0);
        }
      }
      for (const [uuid, email] of live) {
        if (listed.has(uuid)) continue;
        const added = await sql`
          INSERT INTO public.accounts (email, tenant_id, user_uuid)
          VALUES (${email}, ${tenant.tenant_id}, ${uuid}::uuid) ON CONFLICT DO NOTHING`.execute(directory);
        counts.added += Number(added.numAffectedRows ?? 0);
      }
    }
  }
  return counts;
}

/** One pass of both repairs. */
export async function reconcile(core: Core, olderThanSeconds: number): Promise<ReconcileReport> {
  const { finished, undone } = await core.tenants.reconcileProvisioning(olderThanSeconds);
  const directory = await reconcileDirectory(core, olderThanSeconds);
  // Tenant moves killed past their switch (src/tenancy/moves/): finished at once, whatever their age —
  // the move's advisory lock tells a live one apart.
  const moved = await finishInterruptedMoves(core);
  return { finished, undone, directory, ...(moved.length ? { moved } : {}) };
}
