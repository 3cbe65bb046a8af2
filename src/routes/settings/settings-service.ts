/**
 * Reading and writing settings: answers always carry every key (stored value or default); a PUT sets
 * the keys it names (null resets one to its default) in one transaction. Stored values that no longer
 * match the catalogue (a key removed or retyped in a later version) are ignored in favour of the default.
 */

import { sql } from 'kysely';
import type { Static, TObject, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { AccountDb } from '../../auth/tables.ts';
import { contentEtag, ifMatchPasses } from '../../http/etag.ts';
import { problems } from '../../http/problem.ts';
import { assertTimeZone } from '../auth/validation.ts';
import { SettingsRepository } from './settings-repository.ts';

export type SettingValues = Record<string, unknown>;

export class SettingsService<S extends TObject> {
  constructor(
    private readonly schema: S,
    private readonly defaults: Static<S>,
    private readonly timeZoneKeys: readonly string[] = [],
  ) {}

  async read(db: AccountDb, userId: string | null): Promise<Static<S>> {
    const stored = await new SettingsRepository(db).read(userId);
    const properties: Record<string, TSchema> = this.schema.properties;
    const result: Record<string, unknown> = { ...this.defaults };
    for (const [key, value] of stored) {
      const property = properties[key];
      if (property && Value.Check(property, value)) result[key] = value;
    }
    if (!Value.Check(this.schema, result)) throw new Error('settings defaults do not match their schema');
    return result;
  }

  /**
   * `changes` was validated by the PUT schema (whitelisted keys, typed values or null). Writes of one
   * owner's settings are serialised by a transaction-scoped advisory lock (`lockKey`: schema and owner),
   * so `ifMatch` (src/http/etag.ts, a `contentEtag` of the whole map) is checked against the state the
   * write applies to: of concurrent PUTs with the same If-Match, one passes.
   */
  async write(
    db: AccountDb,
    userId: string | null,
    changes: SettingValues,
    lockKey: string,
    ifMatch?: string,
  ): Promise<Static<S>> {
    for (const key of this.timeZoneKeys) {
      const value = changes[key];
      if (typeof value === 'string') assertTimeZone(value, `/body/${key}`);
    }
    return db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${lockKey}, 0))`.execute(trx);
      if (ifMatch !== undefined) {
        const current = contentEtag(await this.read(trx, userId));
        if (!ifMatchPasses(ifMatch, current)) throw problems.preconditionFailed(current);
      }
      const repository = new SettingsRepository(trx);
      for (const [key, value] of Object.entries(changes)) {
        if (!Object.hasOwn(this.schema.properties, key))
          throw problems.badRequest(`Unknown setting ${JSON.stringify(key)}`);
        // null resets a key to its default: the row goes, so a changed default applies again.
        if (value === null) await repository.remove(userId, key);
        else await repository.put(userId, key, value);
      }
      return this.read(trx, userId);
    });
  }
}
