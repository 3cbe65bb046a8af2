/**
 * A sync client for the tests, written the way docs/integrations.md tells integrators to: follow the
 * cursor while `has_more`, keep every entity's latest `data` by (entity, key), drop it on `null`.
 */
import { expect } from 'vitest';
import type { Call } from '../todo/support.ts';

export interface FeedEventJson {
  id: string;
  type: string;
  entity: string;
  key: string;
  action: string;
  actor_uuid: string | null;
  occurred_at: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  data: Record<string, unknown> | null;
}

export interface SyncPageJson {
  items: FeedEventJson[];
  cursor: string;
  has_more: boolean;
}

export async function syncPage(call: Call, cursor: string | undefined, limit = 100): Promise<SyncPageJson> {
  const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
  const answer = await call('GET', `/sync?${query}`);
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json();
}

/** The client-side copy: entity → key → data. */
export class Replica {
  readonly entities = new Map<string, Map<string, Record<string, unknown>>>();
  cursor: string | undefined;
  readonly seen: FeedEventJson[] = [];

  apply(event: FeedEventJson): void {
    this.seen.push(event);
    let table = this.entities.get(event.entity);
    if (!table) {
      table = new Map();
      this.entities.set(event.entity, table);
    }
    if (event.data === null) table.delete(event.key);
    else table.set(event.key, event.data);
  }

  /** Pulls until `has_more` is false; returns how many events came. */
  async pull(call: Call, limit = 100): Promise<number> {
    let count = 0;
    for (;;) {
      const page = await syncPage(call, this.cursor, limit);
      for (const event of page.items) this.apply(event);
      count += page.items.length;
      this.cursor = page.cursor;
      if (!page.has_more) return count;
    }
  }

  table(entity: string): Map<string, Record<string, unknown>> {
    return this.entities.get(entity) ?? new Map();
  }
}
