/**
 * The scheduled clean-up of the account tables (issue 14), run by the job queue's `account-cleanup`
 * cron task (src/jobs/schedules.ts) once per schedule across all processes:
 *  - sign-ups not verified within UNVERIFIED_SIGNUP_HOURS are deleted: schema, registry row and
 *    directory rows (TenantService.delete; the `signups` row goes with the registry row);
 *  - rate-limit windows that have ended are deleted.
 *
 * Two passes at once are still harmless: a tenant deleted by the other is skipped (not found).
 */
import type { AnyDb } from '../db/hosts.ts';
import { TenantNotFoundError, type TenantService } from '../tenancy/tenant-service.ts';
import type { RateLimiter } from './rate-limit.ts';
import { claimExpiredSignup, expiredSignups } from './signups.ts';

export interface AccountCleanupDeps {
  /** The default host (public schema). */
  db: AnyDb;
  tenants: TenantService;
  limiter: RateLimiter;
  unverifiedSignupHours: number;
  /** Called for each deleted tenant (this process forgets it in its registry cache). */
  onTenantDeleted?: (tenantId: string) => void;
}

export interface AccountCleanupReport {
  deletedTenants: string[];
  prunedRateLimits: number;
}

const BATCH = 100;

export async function cleanUpAccounts(deps: AccountCleanupDeps): Promise<AccountCleanupReport> {
  const deletedTenants: string[] = [];
  for (;;) {
    const batch = await expiredSignups(deps.db, deps.unverifiedSignupHours, BATCH);
    let progressed = false;
    for (const tenantId of batch) {
      if (!(await claimExpiredSignup(deps.db, tenantId, deps.unverifiedSignupHours))) continue;
      try {
        await deps.tenants.delete(tenantId);
      } catch (error) {
        if (error instanceof TenantNotFoundError) continue;
        throw error;
      }
      progressed = true;
      deletedTenants.push(tenantId);
      deps.onTenantDeleted?.(tenantId);
    }
    if (batch.length < BATCH || !progressed) break;
  }
  const prunedRateLimits = await deps.limiter.prune();
  return { deletedTenants, prunedRateLimits };
}
