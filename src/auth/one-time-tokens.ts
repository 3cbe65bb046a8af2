/**
 * One-time tokens (`user_tokens`): e-mail verification, password reset, invitation. Single use and
 * expiring: `consume` marks the row used in the same statement that finds it, so two concurrent uses of
 * one token cannot both succeed (the second finds `used_at` set).
 */
import { sql } from 'kysely';
import type { AccountDb, OneTimeTokenKind } from './tables.ts';
import { issueTenantToken } from './tokens.ts';

/** How long each kind stays valid (also stated in the e-mails, src/mail/templates.ts). */
export const TOKEN_TTL_SECONDS: Record<OneTimeTokenKind, number> = {
  verify_email: 48 * 3600,
  password_reset: 3600,
  invitation: 7 * 24 * 3600,
};

export class OneTimeTokens {
  constructor(private readonly db: AccountDb) {}

  /**
   * A fresh token for the user; earlier unused tokens of the same kind stop working, so only the newest
   * e-mail's link is valid.
   */
  async issue(tenantId: string, userId: string, kind: OneTimeTokenKind): Promise<string> {
    const { token, hash } = issueTenantToken(tenantId);
    await this.db
      .updateTable('user_tokens')
      .set({ used_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .execute();
    await this.db
      .insertInto('user_tokens')
      .values({
        token_hash: hash,
        kind,
        user_id: userId,
        expires_at: sql`now() + make_interval(secs => ${TOKEN_TTL_SECONDS[kind]})`,
      })
      .execute();
    return token;
  }

  /** The user id of a valid, unused token of that kind (now used up), or undefined. */
  async consume(hash: Buffer, kind: OneTimeTokenKind): Promise<string | undefined> {
    const row = await this.db
      .updateTable('user_tokens')
      .set({ used_at: sql`now()` })
      .where('token_hash', '=', hash)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returning('user_id')
      .executeTakeFirst();
    return row?.user_id;
  }
}
