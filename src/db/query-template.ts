/**
 * Kysely queries compiled once per SHAPE instead of once per request, for hot paths whose SQL depends on
 * the request (filters present, list lengths, sort) so a fixed `SchemaStatement` cannot hold them.
 *
 * Compiling the task page with Kysely cost the server ~190 µs per request (building and freezing the
 * operation tree, then `withSchema` rewriting all of it) — a third of the route's CPU. Here a request is
 * split into its shape (which fields are present, booleans, nulls, array lengths, plus what the caller names
 * as shape: sort column, direction) and its values (strings, numbers, Dates). The first request of a shape
 * builds the query with a `Slot` standing in for every value and compiles it against a placeholder schema;
 * later requests of that shape only put the schema name into the text and their values into the slots.
 * The SQL text is Kysely's, so it is exactly what an ordinary compile of the same request produces.
 */
import { type Compilable, CompiledQuery } from 'kysely';
import { type AnyDb, quoteIdent, runPrepared, setBounded } from './hosts.ts';

/** Stands in for a request value while a shape is compiled; its index points into the request's values. */
export class Slot {
  constructor(readonly index: number) {}
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * `input` with every string, number and Date replaced by a Slot (arrays element by element, plain objects
 * field by field), the values in slot order, and a key naming the shape: field names, array lengths,
 * booleans and nulls. Two inputs with the same key compile to the same SQL text.
 */
export function slotted<T>(input: T): { key: string; template: T; values: unknown[] } {
  const values: unknown[] = [];
  const key: string[] = [];
  const walk = (value: unknown): unknown => {
    if (value === undefined || value === null || typeof value === 'boolean') {
      key.push(String(value));
      return value;
    }
    if (Array.isArray(value)) {
      key.push(`[${value.length}`);
      const items = value.map(walk);
      key.push(']');
      return items;
    }
    if (isPlainObject(value)) {
      const copy: Record<string, unknown> = {};
      for (const name of Object.keys(value).sort()) {
        if (value[name] === undefined) continue;
        key.push(name);
        copy[name] = walk(value[name]);
      }
      key.push(';');
      return copy;
    }
    if (typeof value === 'string' || typeof value === 'number' || value instanceof Date) {
      key.push('$');
      values.push(value);
      return new Slot(values.length - 1);
    }
    throw new TypeError(`slotted: cannot template a ${typeof value}`);
  };
  const template = walk(input) as T;
  return { key: key.join(' '), template, values };
}

/** The schema name compiled into templates, replaced by the tenant's on use (not a valid tenant id). */
const PLACEHOLDER_SCHEMA = quoteIdent('__query_template_schema__');

/** Shapes kept per template (oldest dropped first; a shape is a few kB of SQL). */
const MAX_SHAPES = 1_000;

export class QueryTemplate<Shape, Values> {
  private readonly compiled = new Map<string, CompiledQuery>();

  /** `build` must put every request value of `values` into the query as a value (never as SQL text). */
  constructor(private readonly build: (db: AnyDb, shape: Shape, values: Values) => Compilable<unknown>) {}

  /** The SQL text and parameters of this request in `schema`, as Kysely would have compiled them. */
  statement(db: AnyDb, schema: string, shape: Shape, input: Values): { sql: string; parameters: unknown[] } {
    const { key: valuesKey, template, values } = slotted(input);
    const key = `${JSON.stringify(shape)} ${valuesKey}`;
    const compiled =
      this.compiled.get(key) ??
      setBounded(this.compiled, key, this.compile(db, shape, template, values.length), MAX_SHAPES);
    // Not cached per schema: the replacement costs a few µs, a text per tenant and shape would cost memory.
    const sql = compiled.sql.replaceAll(PLACEHOLDER_SCHEMA, quoteIdent(schema));
    const parameters = compiled.parameters.map((p) => (p instanceof Slot ? values[p.index] : p));
    return { sql, parameters };
  }

  /** Rows of this request, as a named prepared statement where `db` is schema-bound (`runPrepared`). */
  async rows<Row>(db: AnyDb, schema: string, shape: Shape, input: Values): Promise<Row[]> {
    return runPrepared<Row>(db, this.statement(db, schema, shape, input));
  }

  private compile(db: AnyDb, shape: Shape, template: Values, slots: number): CompiledQuery {
    const compiled = this.build(db.withSchema(PLACEHOLDER_SCHEMA.slice(1, -1)), shape, template).compile();
    // Every request value must have become a parameter: a Slot missing from the parameters means the
    // builder turned a value into SQL text (or dropped it), and the cached text would be wrong for others.
    const used = new Set(compiled.parameters.filter((p) => p instanceof Slot).map((p) => (p as Slot).index));
    if (used.size !== slots) throw new Error('QueryTemplate: a request value did not become a parameter');
    return CompiledQuery.raw(compiled.sql, [...compiled.parameters]);
  }
}
