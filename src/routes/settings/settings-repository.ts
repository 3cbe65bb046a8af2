/** SQL of `settings`: one JSON value per (owner, key); owner NULL = the tenant. */
import { sql } from 'kysely';
import type { AccountDb } from '../../auth/tables.ts';

export class SettingsRepository {
  constructor(private readonly db: AccountDb) {}

  async read(userId: string | null): Promise<Map<string, unknown>> {
    const query = this.db.selectFrom('settings').select(['key', 'value']);
    const rows = await (userId === null
      ? query.where('user_id', 'is', null)
      : query.where('user_id', '=', userId)
    ).execute();
    return new Map(rows.map((row) => [row.key, row.value]));
  }

  async put(userId: string | null, key: string, value: unknown): Promise<void> {
    await this.db
      .insertInto('settings')
      .values({ user_id: userId, key, value: JSON.stringify(value) })
      .onConflict((conflict) =>
        conflict
          .constraint('settings_owner_key_key')
          .doUpdateSet({ value: (eb) => eb.ref('excluded.value'), updated_at: sql`now()` }),
      )
      .execute();
  }

  async remove(userId: string | null, key: string): Promise<void> {
    const query = this.db.deleteFrom('settings').where('key', '=', key);
    await (userId === null
      ? query.where('user_id', 'is', null)
      : query.where('user_id', '=', userId)
    ).execute();
  }
}
