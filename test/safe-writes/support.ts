/**
 * Helpers of the safe-writes tests: a fingerprint of everything a tenant's requests can change (every
 * table of its schema and its rows of the public directory), to prove "the retry changed nothing".
 */
import { sql } from 'kysely';
import type { App } from '../../src/app.ts';

/**
 * Tables whose rows change without a write of the caller's: the idempotency keys themselves, and the
 * bookkeeping of authentication (sessions.last_seen_at, api_tokens.last_used_at).
 */
const BOOKKEEPING = new Set(['idempotency_keys', 'sessions', 'api_tokens', 'schema_migrations']);

/** md5 of every row of every table of the tenant (minus bookkeeping) and of its directory rows. */
export async function stateOf(app: App, tenant: string): Promise<Record<string, string>> {
  const db = app.core.hosts.db();
  const tables = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = ${tenant} AND table_type = 'BASE TABLE' ORDER BY 1`.execute(db);
  const state: Record<string, string> = {};
  for (const { name } of tables.rows) {
    if (BOOKKEEPING.has(name)) continue;
    const row = await sql<{ digest: string | null; n: number }>`
      SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest, count(*)::int AS n
      FROM ${sql.table(`${tenant}.${name}`)} t`.execute(db);
    state[name] = `${row.rows[0]?.n}:${row.rows[0]?.digest}`;
  }
  const accounts = await sql<{ digest: string | null }>`
    SELECT md5(string_agg(a::text, '|' ORDER BY a::text)) AS digest
    FROM public.accounts a WHERE tenant_id = ${tenant}`.execute(db);
  state['public.accounts'] = String(accounts.rows[0]?.digest);
  return state;
}
