/**
 * "A tenant with an owner and a member, with tokens", made through HTTP only: sign-up → verification
 * e-mail → verify (the OWNER), then POST /users/ with a password (a MEMBER, the default role) → login.
 * For any test of a tenant route that needs callers with different permissions.
 */
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { type AccountsApp, accountsApp, login, PASSWORD, signUp, uniqueEmail } from '../accounts/helpers.ts';
import type { TestAppOptions } from './core.ts';

export interface Caller {
  uuid: string;
  email: string;
  /** `tenant` + `authorization` headers. */
  headers: Record<string, string>;
}

export interface TenantUsers {
  tenant: string;
  owner: Caller;
  member: Caller;
}

/** An app whose mail goes to a per-file outbox (sign-up needs the verification e-mail). */
export function usersApp(options: TestAppOptions = {}): Promise<AccountsApp> {
  return accountsApp(options);
}

/** A user of the owner's tenant with the default role (MEMBER), signed in. */
export async function addMember(
  app: App,
  owner: Caller,
  names = { first_name: 'Mia', last_name: 'Member' },
): Promise<Caller> {
  const email = uniqueEmail('member');
  const created = await app.inject({
    method: 'POST',
    url: '/users/',
    headers: owner.headers,
    payload: { email, password: PASSWORD, ...names },
  });
  expect(created.statusCode, created.body).toBe(201);
  return { uuid: created.json().uuid, email, headers: await login(app, email) };
}

export async function tenantWithUsers(context: AccountsApp): Promise<TenantUsers> {
  const signedUp = await signUp(context);
  const owner: Caller = { uuid: signedUp.uuid, email: signedUp.email, headers: signedUp.headers };
  const member = await addMember(context.app, owner);
  return { tenant: signedUp.tenant, owner, member };
}
