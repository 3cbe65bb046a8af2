/** SQL of the credential side of users: what login, verification, reset and invitations read and write. */
import { sql } from 'kysely';
import type { AccountDb } from './tables.ts';

export interface LoginCandidate {
  id: string;
  email: string;
  first_name: string;
  password_hash: string | null;
  is_active: boolean;
  is_verified: boolean;
}

export class CredentialsRepository {
  constructor(private readonly db: AccountDb) {}

  /** A live (not deleted) user by uuid or internal id. */
  find(by: { uuid: string } | { id: string }): Promise<LoginCandidate | undefined> {
    let query = this.db
      .selectFrom('users')
      .select(['id', 'email', 'first_name', 'password_hash', 'is_active', 'is_verified'])
      .where('deleted_at', 'is', null);
    query = 'uuid' in by ? query.where('uuid', '=', by.uuid) : query.where('id', '=', by.id);
    return query.executeTakeFirst();
  }

  async setPassword(userId: string, passwordHash: string, verified: boolean): Promise<void> {
    let update = this.db
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: sql`now()` })
      .where('id', '=', userId);
    // Following an e-mailed link proves the address too.
    if (verified) update = update.set({ is_verified: true });
    await update.execute();
  }

  async markVerified(userId: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ is_verified: true, updated_at: sql`now()` })
      .where('id', '=', userId)
      .execute();
  }
}
