/**
 * The fixture of the injection tests (test/security/injection-*.test.ts): two tenants with one object
 * of every kind, the OpenAPI operations, a schema-valid base request per operation, and `probe`, which
 * records any answer outside the allowed statuses (or a connection the server destroyed) instead of
 * stopping at the first, so a failure lists every offending operation, field and payload at once.
 */
import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { randomIp } from '../accounts/helpers.ts';
import { ADMIN } from '../helpers/core.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { ISOLATION_ENV, seedIntegrations } from './isolation-ids.ts';
import { asText, encode } from './payloads.ts';
import {
  concreteUrl,
  type DatabaseSnapshot,
  databaseSnapshot,
  exampleOf,
  type Operation,
  openApi,
  operations,
  seedOneOfEach,
} from './support.ts';

/** Operations that create a tenant schema when they succeed (tested on their own). */
export const CREATES_TENANT = new Set(['auth.register', 'cc.tenants.create', 'cc.legacy.create']);

export interface Failure {
  where: string;
  payload: string;
  status: number;
  body: string;
}

export const shown = (payload: unknown): string => {
  const text = asText(payload) ?? String(payload);
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} chars)` : text;
};

export const is4xx = (status: number): boolean => status >= 400 && status < 500;
export const not5xx = (status: number): boolean => status < 500;

/** Query strings for a payload: the value itself and, for arrays, repeated and bracketed forms. */
export function queryVariants(name: string, payload: unknown): string[] {
  const encoded = encode(asText(payload));
  const variants = [`${encodeURIComponent(name)}=${encoded}`];
  if (Array.isArray(payload)) variants.push(`${name}=${encoded}&${name}=${encoded}`, `${name}[]=${encoded}`);
  return variants;
}

/** Every pre-existing schema keeps its catalog; roles and extensions are as before. */
export function expectCatalogUnchanged(after: DatabaseSnapshot, before: DatabaseSnapshot): void {
  expect(after.schemas).toEqual(before.schemas);
  expect(after.global).toEqual(before.global);
  for (const schema of before.schemas) expect(after.catalog[schema], schema).toEqual(before.catalog[schema]);
}

/**
 * The job runner's cron scheduler (graphile-worker) stamps each crontab's last execution in
 * `_private_known_crontabs` every time the schedule fires, on a timer and whatever the requests did: its
 * contents are the scheduler's bookkeeping, so only its row count (one row per known crontab) is kept.
 * Every other table, change_events included (a refused request must not record a change), keeps its
 * count and content hash.
 */
const TIMER_BOOKKEEPING = ['graphile_worker._private_known_crontabs'];

/** `databaseSnapshot` without the contents of the tables the server rewrites on a timer. */
export async function stillSnapshot(app: App): Promise<DatabaseSnapshot> {
  const snapshot = await databaseSnapshot(app);
  for (const table of TIMER_BOOKKEEPING) {
    const value = snapshot.rows[table];
    if (value !== undefined) snapshot.rows[table] = value.split(':')[0]!;
  }
  return snapshot;
}

/** Fresh uuids in place of every tenant-object id (writes aimed there find nothing). */
export function unknownIds(ids: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...ids };
  for (const [name, value] of Object.entries(ids))
    if (/^[0-9a-f-]{36}$/.test(value)) out[name] = randomUUID();
  return out;
}

export interface InjectionFixture {
  app: App;
  /** The attacker: its owner sends every request. */
  a: TenantUsers;
  /** The bystander: must never change. */
  b: TenantUsers;
  idsOfA: Record<string, string>;
  /** Every documented operation except the tenant-creating ones. */
  ops: Operation[];
  isTenantRoute(op: Operation): boolean;
  /** A schema-valid request to `op` by the right caller (tenant A's owner, the cc admin, anonymous). */
  baseRequest(op: Operation, pathIds?: Record<string, string>): InjectOptions;
  probe(
    failures: Failure[],
    where: string,
    payload: unknown,
    request: InjectOptions,
    allowed: (status: number) => boolean,
  ): Promise<LightMyRequestResponse | undefined>;
}

export async function injectionFixture(): Promise<InjectionFixture> {
  // The fixture webhook points at a loopback URL, so creating it needs no DNS.
  const context = await usersApp({ env: ISOLATION_ENV });
  const { app } = context;

  async function seed(users: TenantUsers): Promise<Record<string, string>> {
    return {
      ...(await seedOneOfEach(app, users)),
      ...(await seedIntegrations(app, users)),
      // Control center ids: an unknown tenant and job, so no cc request can change a real tenant.
      id: 'no_such_tenant',
      tenant_id: 'no_such_tenant',
      jobs: randomUUID(),
      domain: 'no-such-tenant.example.com',
    };
  }

  const [a, b] = await Promise.all([tenantWithUsers(context), tenantWithUsers(context)]);
  const [idsOfA] = await Promise.all([seed(a), seed(b)]);
  const ops = operations(await openApi(app)).filter((op) => !CREATES_TENANT.has(op.operationId));

  const isTenantRoute = (op: Operation) =>
    app.tenantRoutes.some((route) => route.method === op.method && route.url === op.url);

  function baseRequest(op: Operation, pathIds: Record<string, string> = idsOfA): InjectOptions {
    const headers = isTenantRoute(op) ? a.owner.headers : op.operationId.startsWith('cc.') ? ADMIN : {};
    const request: InjectOptions = {
      method: op.method as InjectOptions['method'],
      url: concreteUrl(op.url, pathIds),
      headers: { ...headers },
      remoteAddress: randomIp(),
    };
    if (op.bodyType === 'application/json') request.payload = exampleOf(op.body ?? {}) as object;
    else if (op.bodyType === 'text/csv') {
      request.payload = 'email;first_name;last_name\r\n';
      request.headers = { ...request.headers, 'content-type': 'text/csv' };
    }
    return request;
  }

  async function probe(
    failures: Failure[],
    where: string,
    payload: unknown,
    request: InjectOptions,
    allowed: (status: number) => boolean,
  ): Promise<LightMyRequestResponse | undefined> {
    let response: LightMyRequestResponse;
    try {
      response = await app.inject(request);
    } catch (error) {
      // E.g. a streamed answer the server destroyed half-way: the client sees a cut-off response.
      failures.push({ where, payload: shown(payload), status: -1, body: String(error) });
      return undefined;
    }
    if (!allowed(response.statusCode))
      failures.push({
        where,
        payload: shown(payload),
        status: response.statusCode,
        body: response.body.slice(0, 200),
      });
    return response;
  }

  return { app, a, b, idsOfA, ops, isTenantRoute, baseRequest, probe };
}
