/** SQL of `api_tokens` (tenant revision 549b9b3f0a9b). */
import { type ColumnType, type Kysely, sql } from 'kysely';
import type { AccountTables } from '../../auth/tables.ts';
import type { AnyDb } from '../../db/hosts.ts';

type BigId = ColumnType<string, never, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface ApiTokensTable {
  id: BigId;
  uuid: ColumnType<string, string | undefined, never>;
  user_id: string;
  name: string;
  token_hash: Buffer;
  scopes: string[];
  created_at: Timestamp;
  expires_at: Timestamp;
  last_used_at: ColumnType<Date | null, never, Date>;
  revoked_at: ColumnType<Date | null, never, Date>;
}

type TokensDb = Kysely<AccountTables & { api_tokens: ApiTokensTable }>;

export interface TokenRow {
  uuid: string;
  name: string;
  scopes: string[];
  user_id: string;
  owner_uuid: string;
  owner_email: string;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export class TokensRepository {
  private readonly db: TokensDb;

  constructor(db: AnyDb) {
    this.db = db;
  }

  private select() {
    return this.db
      .selectFrom('api_tokens as k')
      .innerJoin('users as u', 'u.id', 'k.user_id')
      .select([
        'k.uuid',
        'k.name',
        'k.scopes',
        'k.user_id',
        'u.uuid as owner_uuid',
        'u.email as owner_email',
        'k.created_at',
        'k.expires_at',
        'k.last_used_at',
        'k.revoked_at',
      ]);
  }

  async insert(token: {
    userId: string;
    name: string;
    hash: Buffer;
    scopes: string[];
    expiresAt: Date;
  }): Promise<string> {
    const row = await this.db
      .insertInto('api_tokens')
      .values({
        user_id: token.userId,
        name: token.name,
        token_hash: token.hash,
        scopes: token.scopes,
        expires_at: token.expiresAt,
      })
      .returning('uuid')
      .executeTakeFirstOrThrow();
    return row.uuid;
  }

  find(uuid: string): Promise<TokenRow | undefined> {
    return this.select().where('k.uuid', '=', uuid).executeTakeFirst();
  }

  /** Newest first; `userId` null = every user's (admins); `live` = neither revoked nor expired. */
  async page(options: { userId: string | null; live: boolean; offset: number; limit: number }) {
    let query = this.select();
    if (options.userId !== null) query = query.where('k.user_id', '=', options.userId);
    if (options.live)
      query = query.where('k.revoked_at', 'is', null).where('k.expires_at', '>', sql<Date>`now()`);
    const rows = await query
      .select(sql<string>`count(*) over ()`.as('total'))
      .orderBy('k.created_at', 'desc')
      .orderBy('k.id', 'desc')
      .offset(options.offset)
      .limit(options.limit)
      .execute();
    return { rows, total: Number(rows[0]?.total ?? 0) };
  }

  /** Revokes a live token; false when it was revoked already. */
  async revoke(uuid: string): Promise<boolean> {
    const result = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: new Date() })
      .where('uuid', '=', uuid)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
