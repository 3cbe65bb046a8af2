/**
 * Pending sign-ups (`public.signups`, issue 14): a company whose owner has not verified the e-mail yet.
 * Each one keeps a whole schema (~1 MB), so sign-ups not verified within UNVERIFIED_SIGNUP_HOURS are
 * deleted by the clean-up (src/auth/account-cleanup.ts).
 *
 * Why verifying and deleting cannot both win: verifying deletes the row in its own transaction and is
 * refused when the row has expired; the clean-up first touches the row of an expired sign-up (waiting for
 * a verification in flight, and skipping it when that verification removed the row), and only then drops
 * the tenant. Once the clean-up has seen a row expired, every verification finds it expired too.
 *
 * Sign-ups always create their tenant on the default host, so these statements share the tenant's
 * transaction.
 */
import { sql } from 'kysely';
import type { AnyDb } from '../db/hosts.ts';
import { problems } from '../http/problem.ts';

export const SIGNUP_EXPIRED = 'This sign-up was not confirmed in time and has expired; sign up again';

/** Records a sign-up (in the registration's transaction). */
export async function recordSignup(db: AnyDb, tenantId: string): Promise<void> {
  await sql`INSERT INTO public.signups (tenant_id) VALUES (${tenantId})`.execute(db);
}

/**
 * Settles the tenant's pending sign-up, if it has one, in the caller's transaction: the owner has just
 * proven the address. An expired sign-up is refused (400): the clean-up may already be deleting it.
 */
export async function settleSignup(db: AnyDb, tenantId: string, ttlHours: number): Promise<void> {
  const { rows } = await sql<{ expired: boolean }>`
    DELETE FROM public.signups WHERE tenant_id = ${tenantId}
    RETURNING created_at + make_interval(hours => ${ttlHours}) <= now() AS expired`.execute(db);
  if (rows[0]?.expired) throw problems.badRequest(SIGNUP_EXPIRED);
}

/** Whether the tenant's sign-up is pending and still within its time (resending a link makes sense). */
export async function signupOpen(db: AnyDb, tenantId: string, ttlHours: number): Promise<boolean> {
  const { rows } = await sql<{ open: boolean }>`
    SELECT created_at + make_interval(hours => ${ttlHours}) > now() AS open
      FROM public.signups WHERE tenant_id = ${tenantId}`.execute(db);
  return rows[0]?.open === true;
}

/** Up to `limit` tenants whose sign-up has expired, oldest first. */
export async function expiredSignups(db: AnyDb, ttlHours: number, limit: number): Promise<string[]> {
  const { rows } = await sql<{ tenant_id: string }>`
    SELECT tenant_id FROM public.signups
     WHERE created_at + make_interval(hours => ${ttlHours}) <= now()
     ORDER BY created_at LIMIT ${limit}`.execute(db);
  return rows.map((row) => row.tenant_id);
}

/**
 * The barrier before a deletion: touches the expired row, which waits for a verification in flight
 * (it holds the row) and finds nothing when that verification removed it. True: still pending, delete.
 */
export async function claimExpiredSignup(db: AnyDb, tenantId: string, ttlHours: number): Promise<boolean> {
  const { rows } = await sql`
    UPDATE public.signups SET created_at = created_at
     WHERE tenant_id = ${tenantId} AND created_at + make_interval(hours => ${ttlHours}) <= now()
    RETURNING tenant_id`.execute(db);
  return rows.length > 0;
}
