/**
 * QueryTemplate compiles a Kysely query once per shape and reuses the text with other values: it must give
 * exactly what compiling each request directly gives (text and parameters), never one request's values to
 * another, and refuse a builder that turns a value into SQL text.
 */
import { type ExpressionBuilder, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { AnyDb } from '../../src/db/hosts.ts';
import { QueryTemplate, Slot, slotted } from '../../src/db/query-template.ts';

// Compiling needs no connection: the pool is never used.
const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool() }) });

interface Filters {
  status?: string[];
  owner?: string;
  due?: Date;
  open?: boolean;
  limit: number;
}

function build(base: AnyDb, order: 'asc' | 'desc', f: Filters) {
  return (
    base
      .selectFrom('tasks as t')
      .select(['t.id', 't.title'])
      // biome-ignore lint/suspicious/noExplicitAny: a test table without a schema type.
      .where((eb: ExpressionBuilder<any, 't'>) => {
        const where = [eb('t.deleted_at', 'is', null)];
        if (f.status?.length) where.push(eb('t.status', 'in', f.status));
        if (f.owner !== undefined) where.push(eb('t.owner', '=', f.owner));
        if (f.due !== undefined) where.push(eb('t.due_at', '<', f.due));
        if (f.open === true) where.push(eb('t.status', '<>', 'done'));
        return eb.and(where);
      })
      .orderBy('t.id', order)
      .limit(f.limit)
  );
}

const template = new QueryTemplate<'asc' | 'desc', Filters>((base, order, f) => build(base, order, f));

describe('QueryTemplate', () => {
  const requests: Array<['asc' | 'desc', Filters, string]> = [
    ['asc', { status: ['todo'], limit: 50 }, 'tenant_a'],
    ['asc', { status: ['done'], limit: 10 }, 'tenant_b'],
    ['desc', { status: ['todo', 'done'], owner: 'o-1', limit: 5 }, 'tenant_a'],
    ['asc', { status: ['todo'], limit: 7 }, 'tenant_a'],
    [
      'asc',
      { owner: "o'2; DROP TABLE x", due: new Date('2030-01-01T00:00:00Z'), open: true, limit: 1 },
      'b"c',
    ],
    ['asc', { owner: 'o-3', due: new Date('2031-01-01T00:00:00Z'), open: true, limit: 2 }, 'tenant_b'],
  ];

  it('gives the text and parameters of a direct compile, shape after shape and value after value', () => {
    for (const [order, filters, schema] of requests) {
      const direct = build(db.withSchema(schema), order, filters).compile();
      const templated = template.statement(db, schema, order, filters);
      expect(templated.sql).toBe(direct.sql);
      expect(templated.parameters).toEqual(direct.parameters);
    }
  });

  it('keys shapes by presence, booleans and list lengths, and slots every value', () => {
    const a = slotted({ status: ['x'], owner: 'o', open: true, limit: 3 });
    const b = slotted({ status: ['y'], owner: 'p', open: true, limit: 9 });
    const c = slotted({ status: ['y', 'z'], owner: 'p', open: true, limit: 9 });
    const d = slotted({ status: ['y'], owner: 'p', open: false, limit: 9 });
    expect(a.key).toBe(b.key);
    expect(new Set([a.key, c.key, d.key]).size).toBe(3);
    // Fields in name order: limit, open, owner, status.
    expect(a.values).toEqual([3, 'o', 'x']);
    expect(a.template).toEqual({ limit: new Slot(0), open: true, owner: new Slot(1), status: [new Slot(2)] });
  });

  it('refuses a builder that writes a value into the SQL text', () => {
    const leaky = new QueryTemplate<null, { owner: string }>((base, _shape, f) =>
      base
        .selectFrom('tasks')
        .select('id')
        .where(sql<boolean>`owner = ${sql.lit(String(f.owner))}`),
    );
    expect(() => leaky.statement(db, 'tenant_a', null, { owner: 'o-1' })).toThrow(
      /did not become a parameter/,
    );
  });
});
