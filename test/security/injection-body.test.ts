/**
 * Injection through request bodies (SPEC 11, issue 9): hostile payloads (test/security/payloads.ts) in
 * every body field of every operation of the OpenAPI document (/docs/json), in CSV import cells, and
 * property-based (fast-check) in any query parameter or body field → never a 5xx. Payloads that are
 * legal values (a task titled `'; DROP TABLE users; --`) are stored as data: the answer echoes them
 * verbatim, only the attacker's own tenant (and the shared account directory) may gain rows, and every
 * other tenant's rows and every schema's catalog stay exactly as before.
 *
 * Operations that create tenants (register, /cc/tenants, GET /create) have their own test: the payload
 * becomes a company name, never a schema name.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomIp } from '../accounts/helpers.ts';
import { ADMIN } from '../helpers/core.ts';
import {
  expectCatalogUnchanged,
  type Failure,
  injectionFixture,
  is4xx,
  not5xx,
  shown,
  unknownIds,
} from './injection-setup.ts';
import {
  ALL_PAYLOADS,
  asText,
  encode,
  hostileValue,
  LONG_STRING,
  SQL_STRINGS,
  STRING_PAYLOADS,
  TYPE_PAYLOADS,
  wellFormed,
} from './payloads.ts';
import { bodyFields, databaseSnapshot, type JsonSchema, schemaRows, storedVerbatim } from './support.ts';

const { app, a, b, idsOfA, ops, baseRequest, probe } = await injectionFixture();

/**
 * A field the validator checks against a format, pattern or enum refuses any other string before SQL
 * is near: a few strings plus type confusion prove that. Free-text fields, which do reach SQL, get the
 * whole corpus.
 */
function payloadsFor(schema: JsonSchema): readonly unknown[] {
  const text = JSON.stringify(schema);
  const constrained = /"(format|pattern|enum|const)"/.test(text) && !/"pattern":"\\\\S"/.test(text);
  return constrained ? [...SQL_STRINGS.slice(0, 3), 'a\u0000b', LONG_STRING, ...TYPE_PAYLOADS] : ALL_PAYLOADS;
}

// Every accepted write is read back from PostgreSQL: minutes when the whole suite loads a 2-core machine.
describe('injection payloads in bodies are data, never SQL', { timeout: 240_000 }, () => {
  it('in every body field → no 5xx; accepted strings are stored verbatim; other tenants untouched', async () => {
    const before = await databaseSnapshot(app);
    const failures: Failure[] = [];
    const verbatim: Failure[] = [];
    for (const op of ops.filter((o) => o.bodyType === 'application/json')) {
      for (const [field, schema] of bodyFields(op.body)) {
        for (const payload of payloadsFor(schema)) {
          const request = baseRequest(op);
          request.payload = { ...(request.payload as object), [field]: payload };
          const response = await probe(failures, `${op.operationId} body ${field}`, payload, request, not5xx);
          if (
            typeof payload === 'string' &&
            response &&
            response.statusCode < 300 &&
            response.body.startsWith('{')
          ) {
            const echoed = response.json<Record<string, unknown>>()[field];
            // A field the answer echoes is stored: the database (the attacker's schema or the shared
            // account directory) must hold exactly what was sent, read back from PostgreSQL itself, not
            // from the answer — no truncation, unescaping or re-encoding. The only change allowed is
            // UTF-8's: a lone surrogate is not a character and arrives as U+FFFD.
            if (typeof echoed === 'string') {
              const expected = wellFormed(payload);
              const stored = await storedVerbatim(app, [a.tenant, 'public'], expected);
              if (echoed !== expected || !stored)
                verbatim.push({
                  where: `${op.operationId} ${field}`,
                  payload: shown(payload),
                  status: stored ? 0 : -2,
                  body: `${stored ? 'stored' : 'NOT stored verbatim'}; answered ${shown(echoed)}`,
                });
            }
          }
        }
      }
      // Prototype-pollution keys at the top of the body: refused by the JSON parser (400).
      for (const raw of [
        '{"__proto__": {"polluted": "yes"}}',
        '{"constructor": {"prototype": {"polluted": "yes"}}}',
      ]) {
        const request = baseRequest(op);
        const body = { ...(request.payload as object) };
        const json = `${raw.slice(0, -1)}${Object.keys(body).length ? `, ${JSON.stringify(body).slice(1)}` : '}'}`;
        await probe(
          failures,
          `${op.operationId} body`,
          raw,
          {
            ...request,
            payload: json,
            headers: { ...request.headers, 'content-type': 'application/json' },
          },
          is4xx,
        );
      }
    }
    expect(failures).toEqual([]);
    expect(verbatim).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const after = await databaseSnapshot(app);
    expectCatalogUnchanged(after, before);
    expect(schemaRows(after, b.tenant)).toEqual(schemaRows(before, b.tenant));
  });

  it('in CSV import cells → no 5xx; other tenants untouched', async () => {
    const before = await databaseSnapshot(app);
    const rows = STRING_PAYLOADS.filter((p) => !p.includes('\u0000') && p.length < 1000).map(
      (payload, i) => `inj${i}.${randomUUID().slice(0, 8)}@example.com;"${payload.replace(/"/g, '""')}";Last`,
    );
    for (const csv of [
      `email;first_name;last_name\r\n${rows.join('\r\n')}\r\n`,
      `email;first_name;last_name\r\nnul@example.com;a\u0000b;c\r\n`,
      `email;first_name;last_name\r\n"x'); DROP TABLE users; --";a;b\r\n`,
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/users/import',
        headers: { ...a.owner.headers, 'content-type': 'text/csv' },
        payload: csv,
      });
      expect(response.statusCode, response.body).toBeLessThan(500);
    }
    const after = await databaseSnapshot(app);
    expectCatalogUnchanged(after, before);
    expect(schemaRows(after, b.tenant)).toEqual(schemaRows(before, b.tenant));
  });

  it('property: any value in any query parameter or body field of any operation → no 5xx', async () => {
    const before = await databaseSnapshot(app);
    const targets = ops.flatMap((op) => [
      ...op.query.map((param) => ({ op, where: 'query' as const, name: param.name })),
      ...(op.bodyType === 'application/json'
        ? bodyFields(op.body).map(([name]) => ({ op, where: 'body' as const, name }))
        : []),
    ]);
    const failures: Failure[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), hostileValue, async ({ op, where, name }, value) => {
        const pathIds = op.method === 'GET' || where === 'body' ? idsOfA : unknownIds(idsOfA);
        const request = baseRequest(op, pathIds);
        if (where === 'query')
          request.url = `${request.url}?${encodeURIComponent(name)}=${encode(asText(value))}`;
        else request.payload = { ...(request.payload as object), [name]: value } as object;
        // Recorded rather than thrown, so one run lists every distinct failure instead of the first.
        await probe(failures, `${op.operationId} ${where} ${name}`, value, request, not5xx);
      }),
      { numRuns: 200, seed: 20261126 },
    );
    expect(failures).toEqual([]);
    const after = await databaseSnapshot(app);
    expectCatalogUnchanged(after, before);
    expect(schemaRows(after, b.tenant)).toEqual(schemaRows(before, b.tenant));
  });

  it('tenant-creating operations: a hostile company name is a name, never a schema name', async () => {
    const before = await databaseSnapshot(app);
    const names = [SQL_STRINGS[5]!, SQL_STRINGS[10]!, '\u0430dmin; DROP SCHEMA public --'];
    const made: string[] = [];
    for (const [i, name] of names.entries()) {
      const response = await app.inject({
        method: 'POST',
        url: '/auth/register',
        remoteAddress: randomIp(),
        payload: {
          company_name: name,
          first_name: name,
          last_name: 'x',
          email: `company${i}.${randomUUID().slice(0, 8)}@example.com`,
          password: 'correct horse battery',
          tos: true,
        },
      });
      expect(response.statusCode, response.body).toBe(201);
      const tenant = response.json<{ tenant_id: string }>().tenant_id;
      expect(tenant).toMatch(/^[a-z][a-z0-9_]{0,62}$/);
      made.push(tenant);
    }
    for (const payload of [...SQL_STRINGS.slice(0, 4), 'a\u0000b', 1, {}]) {
      for (const request of [
        { method: 'POST' as const, url: '/cc/tenants', payload: { name: 'X', tenant_id: payload } },
        { method: 'GET' as const, url: `/create?name=X&schema=${encode(asText(payload))}` },
      ]) {
        const response = await app.inject({ ...request, headers: ADMIN });
        expect(response.statusCode, `${request.url} ${shown(payload)}`).toBeGreaterThanOrEqual(400);
        expect(response.statusCode, `${request.url} ${shown(payload)}`).toBeLessThan(500);
      }
    }
    const after = await databaseSnapshot(app);
    expect(after.schemas.filter((s) => !before.schemas.includes(s)).sort()).toEqual(made.sort());
    expect(after.global).toEqual(before.global);
    for (const schema of before.schemas)
      expect(after.catalog[schema], schema).toEqual(before.catalog[schema]);
    for (const schema of before.schemas.filter((s) => s !== 'public'))
      expect(schemaRows(after, schema), schema).toEqual(schemaRows(before, schema));
  });
});
