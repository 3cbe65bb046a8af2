/**
 * The permission catalogue (SPEC 3.2) and the markers a tenant route declares in `config.permission`.
 * Keep PERMISSIONS in sync with the seed of src/migrations/tenant/…7e4ee8e37b99_users_roles_permissions.ts
 * (a test compares both).
 */

export const PERMISSIONS = [
  'USER_VIEW',
  'USER_ADD',
  'USER_EDIT',
  'USER_DELETE',
  'USER_IMPORT',
  'USER_EXPORT',
  'ROLE_MANAGE',
  'GROUP_MANAGE',
  'LIST_MANAGE',
  'TASK_VIEW',
  'TASK_ADD',
  'TASK_EDIT',
  'TASK_DELETE',
  'TASK_EXPORT',
  'TAG_MANAGE',
  'SETTINGS_MANAGE',
  // Added by tenant revision af16ae0fdb75 (webhooks), for OWNER and ADMIN.
  'WEBHOOK_MANAGE',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * What a tenant route needs, declared once in its options: `config: { permission: 'USER_VIEW' }`.
 * - a Permission: a session whose role holds it (else 403);
 * - `AUTHENTICATED`: any valid session of the tenant (e.g. /auth/me, /settings/me);
 * - `PUBLIC`: no token at all (the auth plugin still resolves the tenant). Use sparingly.
 * A tenant route that declares nothing is refused when it is registered (auth-plugin.ts).
 */
export const AUTHENTICATED = 'authenticated-only';
export const PUBLIC = 'public';
export type RouteAccess = Permission | typeof AUTHENTICATED | typeof PUBLIC;

const KNOWN: ReadonlySet<string> = new Set(PERMISSIONS);

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && KNOWN.has(value);
}

export function isRouteAccess(value: unknown): value is RouteAccess {
  return value === AUTHENTICATED || value === PUBLIC || isPermission(value);
}
