/**
 * A migration that changes what a prepared statement returns (a column's type) makes PostgreSQL refuse
 * the statement's cached plan: `0A000 cached plan must not change result type`, on every connection that
 * prepared it, until the statement is prepared again. The server deallocates it and runs the request
 * again once (src/db/hosts.ts `runNamed`) — the client never sees a 500.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { accountsApp, login, signUp } from '../accounts/helpers.ts';

const context = await accountsApp({ poolSize: 2 });
const { app } = context;

describe('a table migrated under the running server', () => {
  it('answers the hot routes without a 500, then as before', async () => {
    const owner = await signUp(context, { company_name: 'Stale Plans' });
    const reads = ['/auth/me', '/users/', '/tasks/?sort=title'];
    const readAll = async (headers: Record<string, string>) =>
      Promise.all(reads.flatMap((url) => [1, 2].map(() => app.inject({ method: 'GET', url, headers }))));
    // Prepared on both pooled connections (twice over, so the plans are cached).
    for (let i = 0; i < 3; i++) await readAll(owner.headers);
    // A migration of the kind that breaks cached plans: the users page returns `phone` (a column no
    // trigger names: the principal-notify trigger's columns cannot change type under it).
    await sql`ALTER TABLE ${sql.id(owner.tenant, 'users')} ALTER COLUMN phone TYPE varchar(300)`.execute(
      app.core.hosts.db(DEFAULT_HOST),
    );
    const again = await login(app, owner.email);
    for (const headers of [owner.headers, again, owner.headers]) {
      const answers = await readAll(headers);
      for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
      expect(answers[0]?.json()).toMatchObject({ user: { email: owner.email, last_name: 'Lovelace' } });
    }
  });
});
