/**
 * Injection through the request line and headers (SPEC 11, issue 9): hostile payloads
 * (test/security/payloads.ts) in the tenant header and every path id are answered 4xx, in every query
 * parameter of every operation of the OpenAPI document (/docs/json) without a 5xx (a search for
 * `' OR 1=1 --` is a legal search) — and afterwards the whole database is exactly as before: the catalog
 * of every schema, roles and extensions, and the rows of every table (the cron scheduler's timer-driven
 * bookkeeping: its row count only; see stillSnapshot). Bodies:
 * test/security/injection-body.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type Failure,
  injectionFixture,
  is4xx,
  not5xx,
  queryVariants,
  stillSnapshot,
  unknownIds,
} from './injection-setup.ts';
import { ALL_PAYLOADS, asText, encode, sendableInHeader } from './payloads.ts';
import { concreteUrl } from './support.ts';

const { app, a, b, idsOfA, ops, isTenantRoute, baseRequest, probe } = await injectionFixture();

describe('injection payloads in header, path and query are data, never SQL', { timeout: 90_000 }, () => {
  it('in the tenant header → 4xx on every tenant route, database unchanged', async () => {
    const before = await stillSnapshot(app);
    const failures: Failure[] = [];
    const values = [
      ...ALL_PAYLOADS.map(asText),
      a.tenant.toUpperCase(),
      `${a.tenant};DROP SCHEMA ${b.tenant} CASCADE`,
      `${b.tenant}--`,
      `"${a.tenant}"`,
      'public',
      'pg_catalog',
      'information_schema',
      'x'.repeat(64),
    ];
    const tenantOps = ops.filter(isTenantRoute);
    for (const op of tenantOps) {
      for (const value of values) {
        const header = sendableInHeader(value) ? value : encode(value);
        const request = baseRequest(op);
        request.headers = { ...request.headers, tenant: header };
        await probe(failures, `${op.operationId} header`, value, request, is4xx);
      }
    }
    expect(failures).toEqual([]);
    expect(await stillSnapshot(app)).toEqual(before);
  });

  it('in every path id → 4xx, database unchanged', async () => {
    const before = await stillSnapshot(app);
    const failures: Failure[] = [];
    for (const op of ops.filter((o) => o.path.length > 0)) {
      for (const param of op.path) {
        for (const payload of ALL_PAYLOADS) {
          const request = baseRequest(op);
          // Replace just this parameter; the others keep real ids of A.
          const url = concreteUrl(op.url, { ...idsOfA, [param.name]: '\u0001marker' }).replace(
            encodeURIComponent('\u0001marker'),
            encode(asText(payload)),
          );
          await probe(failures, `${op.operationId} path ${param.name}`, payload, { ...request, url }, is4xx);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await stillSnapshot(app)).toEqual(before);
  });

  it('in every query parameter → no 5xx, database unchanged', async () => {
    const before = await stillSnapshot(app);
    const failures: Failure[] = [];
    for (const op of ops.filter((o) => o.query.length > 0)) {
      // Writes that take a query (DELETE …?force=) aim at ids that do not exist: nothing to delete.
      const pathIds = op.method === 'GET' ? idsOfA : unknownIds(idsOfA);
      for (const param of op.query) {
        for (const payload of ALL_PAYLOADS) {
          for (const variant of queryVariants(param.name, payload)) {
            const request = baseRequest(op, pathIds);
            const url = `${request.url}?${variant}`;
            await probe(
              failures,
              `${op.operationId} query ${param.name}`,
              payload,
              { ...request, url },
              not5xx,
            );
          }
        }
      }
      for (const pollution of [
        '__proto__[polluted]=yes',
        'constructor[prototype][polluted]=yes',
        '__proto__=x',
      ]) {
        const request = baseRequest(op, pathIds);
        await probe(
          failures,
          `${op.operationId} query`,
          pollution,
          { ...request, url: `${request.url}?${pollution}` },
          not5xx,
        );
      }
    }
    expect(failures).toEqual([]);
    expect(await stillSnapshot(app)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
