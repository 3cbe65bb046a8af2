/**
 * Id sources of the isolation matrices (isolation-matrix.test.ts, isolation-host.test.ts) beyond
 * `seedOneOfEach` (support.ts): one object of every integration kind (issue 19) in `users`' tenant.
 *  - `tokens`: a personal API token of the owner (POST /tokens/);
 *  - `webhooks`: a webhook (POST /webhooks), disabled at once and subscribed to no real event type, so
 *    no delivery job ever runs and the database snapshots of the matrices stay still;
 *  - `delivery`: a logged delivery of that webhook. Deliveries are only written by the job runner after
 *    a real HTTP attempt, so the fixture writes the row itself (the API never creates one).
 * The webhook's URL is a loopback one: the apps of the matrices run with WEBHOOK_ALLOW_PRIVATE=true so
 * that creating it needs no DNS.
 */
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import type { TenantUsers } from '../helpers/tenant-users.ts';
import { bodyFields, exampleOf, type JsonSchema } from './support.ts';

/** Environment of the matrices' apps: lets the fixture webhook point at a loopback URL. */
export const ISOLATION_ENV = { WEBHOOK_ALLOW_PRIVATE: 'true' } as const;

export async function seedIntegrations(app: App, users: TenantUsers): Promise<Record<string, string>> {
  const { headers } = users.owner;
  const token = await app.inject({
    method: 'POST',
    url: '/tokens/',
    headers,
    payload: { name: 'Secret CI token', scopes: ['TASK_VIEW'] },
  });
  expect(token.statusCode, `/tokens/: ${token.body}`).toBe(201);

  const hook = await app.inject({
    method: 'POST',
    url: '/webhooks',
    headers,
    payload: { url: 'http://127.0.0.1:9/secret-hook', event_types: ['none.none'] },
  });
  expect(hook.statusCode, `/webhooks: ${hook.body}`).toBe(201);
  const webhook = hook.json<{ uuid: string }>().uuid;
  const disabled = await app.inject({
    method: 'PATCH',
    url: `/webhooks/${webhook}`,
    headers,
    payload: { enabled: false },
  });
  expect(disabled.statusCode, `PATCH /webhooks/${webhook}: ${disabled.body}`).toBe(200);

  const delivery = await sql<{ uuid: string }>`
    INSERT INTO ${sql.table(`${users.tenant}.webhook_deliveries`)}
           (webhook_id, event_id, event_type, attempt, succeeded, status_code, duration_ms)
    SELECT id, 1, 'task.created', 1, true, 200, 5
      FROM ${sql.table(`${users.tenant}.webhooks`)} WHERE uuid = ${webhook}
    RETURNING uuid`.execute(app.core.hosts.db(DEFAULT_HOST));
  expect(delivery.rows).toHaveLength(1);

  return { tokens: token.json<{ uuid: string }>().uuid, webhooks: webhook, delivery: delivery.rows[0]!.uuid };
}

/**
 * `exampleOf` (support.ts) for a request body, except that a top-level string field whose generated
 * value misses the field's pattern takes a known valid value for that pattern (a webhook's `^https?://`
 * URL: a loopback one, accepted under ISOLATION_ENV without DNS), else the schema's documented example:
 * a 404 must never be masked by a validation error (400) or a refused URL (422).
 */
const VALUES_BY_PATTERN: Record<string, string> = { '^https?://': 'http://127.0.0.1:9/probe-hook' };

export function bodyExample(schema: JsonSchema): unknown {
  const body = exampleOf(schema);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const fields = body as Record<string, unknown>;
  for (const [name, field] of bodyFields(schema)) {
    const value = fields[name];
    if (typeof value !== 'string' || !field.pattern || new RegExp(field.pattern, 'u').test(value)) continue;
    const documented = field as JsonSchema & { examples?: unknown[]; example?: unknown };
    const example = VALUES_BY_PATTERN[field.pattern] ?? documented.examples?.[0] ?? documented.example;
    if (typeof example === 'string') fields[name] = example;
  }
  return body;
}
