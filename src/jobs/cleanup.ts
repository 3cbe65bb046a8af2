/**
 * Scheduled clean-ups run by the job queue's cron (src/jobs/jobs-plugin.ts): graphile-worker inserts one
 * job per schedule tick with a unique key, so each runs once per schedule across every process.
 */
import { sql } from 'kysely';
import type { Core } from '../core.ts';
import { pruneFeed } from '../routes/sync/feed.ts';
import { todoDb } from '../routes/tasks/tables.ts';

export const PRUNE_AUTH_TASK = 'prune-auth-tokens';
/** Kept a day past expiry or use, so an operator can still see recent ones. */
const GRACE = '1 day';

/** Deletes expired or revoked sessions and expired or used one-time tokens in every tenant schema. */
export async function pruneAuthTokens(
  core: Core,
): Promise<{ tenants: number; sessions: number; tokens: number; failed: string[] }> {
  const tenants = await core.registry.list({ statuses: ['active', 'suspended'] });
  let sessions = 0;
  let tokens = 0;
  // One tenant that cannot be pruned (host down, schema mid-migration) never stops the others.
  const failed: string[] = [];
  for (const tenant of tenants) {
    if (!core.hosts.has(tenant.host)) continue;
    const db = core.hosts.db(tenant.host);
    try {
      const s = await sql`
        DELETE FROM ${sql.table(`${tenant.tenant_id}.sessions`)}
        WHERE expires_at < now() - ${GRACE}::interval OR revoked_at < now() - ${GRACE}::interval`.execute(db);
      const t = await sql`
        DELETE FROM ${sql.table(`${tenant.tenant_id}.user_tokens`)}
        WHERE expires_at < now() - ${GRACE}::interval OR used_at < now() - ${GRACE}::interval`.execute(db);
      sessions += Number(s.numAffectedRows ?? 0);
      tokens += Number(t.numAffectedRows ?? 0);
    } catch {
      failed.push(tenant.tenant_id);
    }
  }
  return { tenants: tenants.length, sessions, tokens, failed };
}

export const PRUNE_FEED_TASK = 'prune-change-feed';

/**
 * Deletes change-feed events older than FEED_RETENTION_DAYS in every tenant schema (a cursor from
 * before them then answers 410 "full resync").
 */
export async function pruneChangeFeeds(
  core: Core,
): Promise<{ tenants: number; events: number; failed: string[] }> {
  const tenants = await core.registry.list({ statuses: ['active', 'suspended'] });
  let events = 0;
  const failed: string[] = [];
  for (const tenant of tenants) {
    if (!core.hosts.has(tenant.host)) continue;
    try {
      const db = todoDb(core.hosts.db(tenant.host).withSchema(tenant.tenant_id));
      events += await pruneFeed(db, core.config.feedRetentionDays);
    } catch {
      failed.push(tenant.tenant_id);
    }
  }
  return { tenants: tenants.length, events, failed };
}

export const PRUNE_IDEMPOTENCY_TASK = 'prune-idempotency-keys';

/**
 * Deletes the idempotency keys whose 24 hours are over (src/http/idempotency.ts) in every tenant schema.
 * An expired key is already ignored by the claim (it is taken over), so pruning is only about space.
 */
export async function pruneIdempotencyKeys(
  core: Core,
): Promise<{ tenants: number; keys: number; failed: string[] }> {
  const tenants = await core.registry.list({ statuses: ['active', 'suspended'] });
  let keys = 0;
  const failed: string[] = [];
  for (const tenant of tenants) {
    if (!core.hosts.has(tenant.host)) continue;
    try {
      const result = await sql`
        DELETE FROM ${sql.table(`${tenant.tenant_id}.idempotency_keys`)} WHERE expires_at <= now()`.execute(
        core.hosts.db(tenant.host),
      );
      keys += Number(result.numAffectedRows ?? 0);
    } catch {
      failed.push(tenant.tenant_id);
    }
  }
  return { tenants: tenants.length, keys, failed };
}
