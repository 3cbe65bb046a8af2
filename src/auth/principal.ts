/**
 * Who is calling: the session, its user, the user's role and permissions, loaded in ONE query from the
 * tenant schema (session-repository.ts). Built once per request by the auth plugin.
 */
import type { Permission } from './permissions.ts';

export interface PrincipalUser {
  /** Internal id (bigint as string); never sent to clients. */
  id: string;
  uuid: string;
  email: string;
  first_name: string;
  last_name: string;
  tz: string;
  lang: string;
}

export interface PrincipalRole {
  id: number;
  uuid: string;
  name: string;
  title: string;
}

export interface PrincipalSession {
  id: string;
  expires_at: Date;
}

/** The API token a request was authenticated with (src/auth/api-tokens.ts). */
export interface PrincipalApiToken {
  id: string;
  uuid: string;
  name: string;
}

export interface Principal {
  session: PrincipalSession;
  /** Set when the bearer was a scoped API token rather than a session; `permissions` are then scoped. */
  apiToken?: PrincipalApiToken;
  user: PrincipalUser;
  role: PrincipalRole;
  permissions: ReadonlySet<Permission>;
}

/** The body of login, verify-email and accept-invite (SPEC 4). */
export interface SessionAnswer {
  auth_token: string;
  expires_at: string;
  tenant_id: string;
  user: Omit<PrincipalUser, 'id'>;
  role: Omit<PrincipalRole, 'id'>;
  permissions: Permission[];
}
