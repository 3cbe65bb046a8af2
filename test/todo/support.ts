/**
 * Small HTTP helpers for the TODO tests: a caller-bound `call`, and shortcuts to create lists, tags and
 * tasks through the API (never through SQL), plus a raw count of rows for "nothing written" checks.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { Caller } from '../helpers/tenant-users.ts';

export type Call = (
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
) => Promise<LightMyRequestResponse>;

export function caller(app: App, who: Caller): Call {
  return (method, url, payload) =>
    app.inject({
      method,
      url,
      headers: who.headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
}

export async function ok<T = Record<string, unknown>>(
  response: Promise<LightMyRequestResponse>,
  status = 200,
): Promise<T> {
  const answer = await response;
  expect(answer.statusCode, answer.body).toBe(status);
  return (answer.body ? answer.json() : undefined) as T;
}

export interface TaskJson {
  uuid: string;
  list_uuid: string | null;
  title: string;
  description: string;
  status: string;
  priority: string;
  due_at: string | null;
  completed_at: string | null;
  position: number;
  author_uuid: string;
  assignees: Array<{ uuid: string; email: string }>;
  tags: Array<{ uuid: string; name: string }>;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface PageJson<T> {
  items: T[];
  total: number;
  page: number;
  size: number;
  pages: number;
}

export interface EventJson {
  action: string;
  actor: { uuid: string };
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  created_at: string;
}

export const createTask = (call: Call, body: Record<string, unknown>) =>
  ok<TaskJson>(call('POST', '/tasks/', body), 201);
export const createList = (call: Call, name: string) =>
  ok<{ uuid: string; position: number }>(call('POST', '/lists/', { name }), 201);
export const createTag = (call: Call, name: string) =>
  ok<{ uuid: string }>(call('POST', '/tags/', { name }), 201);

/** Rows of a TODO table in a tenant schema (for "nothing was written" assertions). */
export async function rowCount(
  app: App,
  tenant: string,
  table: 'tasks' | 'task_events' | 'comments' | 'lists' | 'tags' | 'task_tags' | 'task_assignees',
): Promise<number> {
  const result = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM ${sql.table(`${tenant}.${table}`)}`.execute(app.core.hosts.db());
  return result.rows[0]!.n;
}

/** Counts of every TODO table, to compare before and after a refused request. */
export async function snapshotCounts(app: App, tenant: string) {
  const tables = [
    'tasks',
    'task_events',
    'comments',
    'lists',
    'tags',
    'task_tags',
    'task_assignees',
  ] as const;
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await rowCount(app, tenant, t)])));
}
