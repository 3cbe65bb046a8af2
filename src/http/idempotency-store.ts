/**
 * SQL of `idempotency_keys` (tenant revision 549b9b3f0a9b): claim a key before a write, complete it with
 * the answer, release it when the answer must not be kept. Every statement is its own short transaction
 * (autocommit), so a claim is visible to a concurrent retry at once.
 */
import { type ColumnType, type Kysely, sql } from 'kysely';
import type { AnyDb } from '../db/hosts.ts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  fingerprint: Buffer;
  method: string;
  path: string;
  state: ColumnType<'running' | 'done', 'running' | 'done' | undefined, 'running' | 'done'>;
  locked_until: Timestamp;
  status_code: number | null;
  /** jsonb: parsed on the way out, written with JSON.stringify. */
  headers: ColumnType<Record<string, string> | null, string | null | undefined, string | null>;
  body: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

type KeysDb = Kysely<{ idempotency_keys: IdempotencyKeysTable }>;

/**
 * How long a `running` key belongs to the request that claimed it. Past it the claimer is presumed dead
 * (process killed between its write and storing the answer) and a retry may run the request again.
 * Far above any request's duration here (statement timeouts are seconds).
 */
export const LEASE_SECONDS = 60;
/** How long an answer is kept (the IETF draft leaves it to the server; Stripe keeps 24 h too). */
export const RETENTION_HOURS = 24;

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

export type Claim =
  | { kind: 'claimed' }
  | { kind: 'running' }
  | { kind: 'mismatch' }
  | { kind: 'done'; answer: StoredAnswer };

export interface KeyRef {
  userId: string;
  key: string;
}

interface KeyRow {
  state: 'running' | 'done';
  fingerprint: Buffer;
  status_code: number | null;
  headers: Record<string, string> | null;
  body: string | null;
}

export class IdempotencyStore {
  private readonly db: KeysDb;

  constructor(db: AnyDb) {
    this.db = db;
  }

  /**
   * Takes the key for this request, or says why not. A new key, an expired one, or one whose claimer's
   * lease ran out with the same request is taken (one statement: concurrent claims queue on the row, and
   * exactly one of them gets it); otherwise the existing row decides.
   */
  async claim(ref: KeyRef, fingerprint: Buffer, method: string, path: string): Promise<Claim> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimed = await this.db
        .insertInto('idempotency_keys')
        .values({
          user_id: ref.userId,
          key: ref.key,
          fingerprint,
          method,
          path,
          locked_until: sql`now() + make_interval(secs => ${LEASE_SECONDS})`,
        })
        .onConflict((conflict) =>
          conflict
            .columns(['user_id', 'key'])
            .doUpdateSet({
              fingerprint: (eb) => eb.ref('excluded.fingerprint'),
              method: (eb) => eb.ref('excluded.method'),
              path: (eb) => eb.ref('excluded.path'),
              state: 'running',
              locked_until: (eb) => eb.ref('excluded.locked_until'),
              status_code: null,
              headers: null,
              body: null,
              created_at: sql`now()`,
              expires_at: sql`now() + make_interval(hours => ${RETENTION_HOURS})`,
            })
            .where((eb) =>
              eb.or([
                eb('idempotency_keys.expires_at', '<=', sql<Date>`now()`),
                eb.and([
                  eb('idempotency_keys.state', '=', 'running'),
                  eb('idempotency_keys.locked_until', '<=', sql<Date>`now()`),
                  eb('idempotency_keys.fingerprint', '=', eb.ref('excluded.fingerprint')),
                ]),
              ]),
            ),
        )
        .returning(sql<boolean>`true`.as('ok'))
        .execute();
      if (claimed.length > 0) return { kind: 'claimed' };
      const row = await this.db
        .selectFrom('idempotency_keys')
        .select(['state', 'fingerprint', 'status_code', 'headers', 'body'])
        .where('user_id', '=', ref.userId)
        .where('key', '=', ref.key)
        .executeTakeFirst();
      // Released (or pruned) between the two statements: claim again.
      if (!row) continue;
      return this.verdict(row, fingerprint);
    }
    return { kind: 'running' };
  }

  private verdict(row: KeyRow, fingerprint: Buffer): Claim {
    if (!row.fingerprint.equals(fingerprint)) return { kind: 'mismatch' };
    if (row.state === 'running' || row.status_code === null) return { kind: 'running' };
    return { kind: 'done', answer: { status: row.status_code, headers: row.headers ?? {}, body: row.body } };
  }

  /** Stores the first answer; from now on retries replay it. */
  async complete(ref: KeyRef, answer: StoredAnswer): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({
        state: 'done',
        status_code: answer.status,
        headers: JSON.stringify(answer.headers),
        body: answer.body,
        locked_until: sql`now()`,
      })
      .where('user_id', '=', ref.userId)
      .where('key', '=', ref.key)
      .execute();
  }

  /** Forgets a claim whose answer is not final (5xx, 429): a retry runs the request again. */
  async release(ref: KeyRef): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', ref.userId)
      .where('key', '=', ref.key)
      .where('state', '=', 'running')
      .execute();
  }
}
