/** Kysely types of the webhook tables (tenant revision af16ae0fdb75); keep in sync with that file. */
import type { ColumnType, Generated, Kysely } from 'kysely';
import type { AnyDb } from '../../db/hosts.ts';
import type { TodoTables } from '../tasks/tables.ts';

type BigId = ColumnType<string, never, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface WebhooksTable {
  id: BigId;
  uuid: Generated<string>;
  url: string;
  event_types: string[];
  secret: string;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  delivered_through: string;
  attempts: Generated<number>;
  failing_since: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: BigId;
  uuid: Generated<string>;
  webhook_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  manual: Generated<boolean>;
  succeeded: boolean;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  created_at: Timestamp;
}

export interface WebhookTables extends TodoTables {
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  roles: { id: number; name: string };
}

export type WebhookDb = Kysely<WebhookTables>;

export function webhookDb(db: AnyDb): WebhookDb {
  return db;
}

/** Does `type` (`task.created`) match a subscription's patterns (`*`, `task.*`, `task.created`)? */
export function matchesTypes(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (pattern) =>
      pattern === '*' ||
      pattern === type ||
      (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  );
}
