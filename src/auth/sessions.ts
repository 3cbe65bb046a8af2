/**
 * Opening and checking sessions (SPEC 4, 11). Several sessions per user (one per device): a login never
 * logs out other devices. A session lasts 1 day, or 30 days with `permanent: true`; it is not extended
 * by use, so a stolen token stops working at a known time.
 */
import type { SessionAnswer } from './principal.ts';
import { SessionRepository, type UserAccess } from './session-repository.ts';
import type { AccountDb } from './tables.ts';
import { issueSessionToken } from './tokens.ts';

export const SESSION_TTL_SECONDS = { normal: 24 * 3600, permanent: 30 * 24 * 3600 } as const;

export interface ClientInfo {
  ip: string;
  userAgent: string | undefined;
  /**
   * The request's host name (without port). On a tenant's domain the header-less flows (login, reset,
   * one-time tokens) reach only that tenant (issue 21, src/auth/tenant-lookup.ts).
   */
  host?: string | undefined;
}

export interface OpenSessionInput {
  tenantId: string;
  userId: string;
  permanent: boolean;
  client: ClientInfo;
}

/** Creates a session for a live user and returns the SESSION answer (token shown once). */
export async function openSession(db: AccountDb, input: OpenSessionInput): Promise<SessionAnswer> {
  const repository = new SessionRepository(db);
  const access = await repository.access(input.userId);
  if (!access) throw new Error(`user ${input.userId} vanished while opening a session`);
  const { token, hash } = issueSessionToken();
  const ttl = input.permanent ? SESSION_TTL_SECONDS.permanent : SESSION_TTL_SECONDS.normal;
  // Whole seconds: the answer's expires_at and the stored one must be the same instant.
  const expiresAt = new Date(Math.floor(Date.now() / 1000 + ttl) * 1000);
  await repository.insert({
    hash,
    userId: input.userId,
    expiresAt,
    userAgent: input.client.userAgent?.slice(0, 500) ?? null,
    ip: input.client.ip || null,
  });
  return { auth_token: token, expires_at: expiresAt.toISOString(), ...publicAccess(input.tenantId, access) };
}

/** user / role / permissions as clients see them (no internal ids). */
export function publicAccess(
  tenantId: string,
  access: UserAccess,
): Omit<SessionAnswer, 'auth_token' | 'expires_at'> {
  const { id: _userId, ...user } = access.user;
  const { id: _roleId, ...role } = access.role;
  return { tenant_id: tenantId, user, role, permissions: [...access.permissions].sort() };
}

/** Logout: this session only. */
export async function revokeSession(db: AccountDb, sessionId: string): Promise<void> {
  await new SessionRepository(db).revoke(sessionId);
}

/** Logout everywhere, password reset, deletion, deactivation: every live session of the user. */
export function revokeAllSessions(db: AccountDb, userId: string): Promise<number> {
  return new SessionRepository(db).revokeAll(userId);
}
