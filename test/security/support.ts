/**
 * Shared pieces of the security tests: the OpenAPI document read as data (operations, parameters and
 * body schemas), a generator of a small valid value for a JSON schema, concrete URLs for route
 * templates, and a snapshot of the whole database (catalog of every schema + the contents of every
 * table, as a row count and a hash of its rows) to prove that refused or hostile requests changed nothing:
 * an UPDATE or a soft delete changes a table's hash as surely as an INSERT changes its count.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import { catalogSnapshot } from '../../src/migrations/drift.ts';
import { uniqueEmail } from '../accounts/helpers.ts';
import type { Caller, TenantUsers } from '../helpers/tenant-users.ts';

/** The subset of JSON Schema the API's TypeBox schemas use. */
export interface JsonSchema {
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  nullable?: boolean;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
}

export interface OpenApiParameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}

export interface OpenApiOperation {
  operationId?: string;
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/** One operation of the document, with its method and Fastify-style URL (`/tasks/:uuid`). */
export interface Operation {
  method: string;
  /** Fastify route template, e.g. `/tasks/:uuid/comments`. */
  url: string;
  operationId: string;
  query: OpenApiParameter[];
  path: OpenApiParameter[];
  /** JSON body schema, when the operation takes a JSON body. */
  body: JsonSchema | undefined;
  /** Media type of the body (`application/json`, `text/csv`), when there is one. */
  bodyType: string | undefined;
}

export async function openApi(app: App): Promise<OpenApiDocument> {
  const response = await app.inject({ method: 'GET', url: '/docs/json' });
  expect(response.statusCode).toBe(200);
  return response.json<OpenApiDocument>();
}

export function operations(doc: OpenApiDocument): Operation[] {
  const result: Operation[] = [];
  for (const [pathTemplate, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const parameters = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      const bodyType = Object.keys(content)[0];
      result.push({
        method: method.toUpperCase(),
        url: pathTemplate.replace(/\{(\w+)\}/g, ':$1'),
        operationId: op.operationId ?? `${method} ${pathTemplate}`,
        query: parameters.filter((p) => p.in === 'query'),
        path: parameters.filter((p) => p.in === 'path'),
        body: bodyType ? content[bodyType]?.schema : undefined,
        bodyType,
      });
    }
  }
  return result;
}

/** The operation of a route of `app.tenantRoutes` (same method and URL template). */
export function operationFor(ops: Operation[], method: string, url: string): Operation {
  const found = ops.find((op) => op.method === method && op.url === url);
  if (!found) throw new Error(`${method} ${url} is not in the OpenAPI document`);
  return found;
}

/** `:name` of a route template. */
export const pathParams = (url: string): string[] => [...url.matchAll(/:(\w+)/g)].map((m) => m[1]!);

/**
 * The id a path parameter takes, from a map keyed by the parameter's name (`task_uuid`) or, for the
 * usual `/<collection>/:uuid`, by the collection segment just before it. Throws (failing the test) when
 * no source is known, so a new route with a new kind of id cannot slip past the tests.
 */
export function concreteUrl(url: string, ids: Readonly<Record<string, string>>): string {
  const segments = url.split('/');
  return segments
    .map((segment, index) => {
      if (!segment.startsWith(':')) return segment;
      const name = segment.slice(1);
      const collection = segments[index - 1] ?? '';
      const id = ids[name] ?? ids[collection];
      if (id === undefined)
        throw new Error(
          `no id source for path parameter "${name}" of ${url}: add "${collection || name}" to the id map`,
        );
      return encodeURIComponent(id);
    })
    .join('/');
}

const PATTERN_CANDIDATES = [
  'x',
  'X',
  'Probe',
  'PROBE_ROLE',
  '#1e90ff',
  'Europe/Paris',
  'en',
  '+1 555 0100',
  'a',
];

/** First non-null branch of a union, else the schema itself. */
function concrete(schema: JsonSchema): JsonSchema {
  const branches = schema.anyOf ?? schema.oneOf;
  if (!branches) return schema;
  const usable = branches.filter((b) => !(b.enum?.length === 1 && b.enum[0] === null) && b.type !== 'null');
  return concrete(usable[0] ?? branches[0]!);
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  return schema.type;
}

/**
 * A small value that satisfies `schema` (or undefined when it cannot tell). Objects get their required
 * properties; an object with none required gets its first property that can be generated, so PATCH
 * bodies are never empty.
 */
export function exampleOf(input: JsonSchema): unknown {
  const schema = concrete(input);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum.find((v) => v !== null);
  switch (typeOf(schema)) {
    case 'object': {
      const properties = schema.properties ?? {};
      const out: Record<string, unknown> = {};
      for (const name of schema.required ?? []) out[name] = exampleOf(properties[name] ?? {});
      if (Object.keys(out).length === 0) {
        for (const [name, property] of Object.entries(properties)) {
          const value = exampleOf(property);
          if (value !== undefined) {
            out[name] = value;
            break;
          }
        }
      }
      return out;
    }
    case 'array':
      return (schema.minItems ?? 0) > 0 && schema.items ? [exampleOf(schema.items)] : [];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return exampleString(schema);
    default:
      return undefined;
  }
}

function exampleString(schema: JsonSchema): string {
  switch (schema.format) {
    case 'email':
      return uniqueEmail('probe');
    case 'uuid':
      return randomUUID();
    case 'date-time':
      return '2030-01-02T03:04:05.000Z';
    case 'date':
      return '2030-01-02';
    default:
      break;
  }
  const min = schema.minLength ?? 1;
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern, 'u');
    const fits = PATTERN_CANDIDATES.find((c) => pattern.test(c) && c.length >= min);
    if (fits) return fits;
  }
  return 'x'.repeat(Math.max(1, min));
}

/** Named properties of a (possibly union) object schema. */
export function bodyFields(schema: JsonSchema | undefined): Array<[string, JsonSchema]> {
  if (!schema) return [];
  return Object.entries(concrete(schema).properties ?? {});
}

export interface DatabaseSnapshot {
  /** Names of the non-system schemas. */
  schemas: string[];
  /** Catalog lines (tables, columns, indexes, constraints, …) per schema (src/migrations/drift.ts). */
  catalog: Record<string, string[]>;
  /** `schema.table` → `<row count>:<md5 of its rows as text, in text order>`. */
  rows: Record<string, string>;
  /** Database-wide objects an injection could create: roles and extensions. */
  global: string[];
}

/** Catalog of every schema and the contents (count and hash) of every table of the app's default database. */
const BOOKKEEPING_TABLES = new Set(['public.job_worker_heartbeats']);

export async function databaseSnapshot(app: App): Promise<DatabaseSnapshot> {
  const db = app.core.hosts.db(DEFAULT_HOST);
  const schemas = (
    await sql<{ name: string }>`
      SELECT nspname AS name FROM pg_catalog.pg_namespace
       WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
       ORDER BY 1`.execute(db)
  ).rows.map((r) => r.name);
  const catalog: Record<string, string[]> = {};
  for (const schema of schemas) catalog[schema] = await catalogSnapshot(db, schema);
  const tables = (
    await sql<{ schema: string; name: string }>`
      SELECT n.nspname AS schema, c.relname AS name
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(${schemas}::text[])
       ORDER BY 1, 2`.execute(db)
  ).rows;
  const rows: Record<string, string> = {};
  for (const table of tables) {
    // The job runners' liveness beats (src/jobs/queue.ts) change every few seconds by design; they are
    // the server's bookkeeping, not anybody's data.
    if (BOOKKEEPING_TABLES.has(`${table.schema}.${table.name}`)) continue;
    const hashed = await sql<{ n: number; md5: string }>`
      SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '')) AS md5
        FROM ${sql.table(`${table.schema}.${table.name}`)} t`.execute(db);
    rows[`${table.schema}.${table.name}`] = `${hashed.rows[0]!.n}:${hashed.rows[0]!.md5}`;
  }
  const global = (
    await sql<{ line: string }>`
      SELECT 'role ' || rolname AS line FROM pg_catalog.pg_roles
      UNION ALL SELECT 'extension ' || extname || ' ' || extversion FROM pg_catalog.pg_extension
      ORDER BY 1`.execute(db)
  ).rows.map((r) => r.line);
  return { schemas, catalog, rows, global };
}

/** Contents of one schema's tables (for "nothing changed in tenant B"). */
export function schemaRows(snapshot: DatabaseSnapshot, schema: string): Record<string, string> {
  return Object.fromEntries(Object.entries(snapshot.rows).filter(([key]) => key.startsWith(`${schema}.`)));
}

/** Creates one object of every kind in `users`' tenant through the API; ids keyed by collection. */
export async function seedOneOfEach(app: App, users: TenantUsers): Promise<Record<string, string>> {
  const created = async (who: Caller, url: string, payload: object): Promise<string> => {
    const response = await app.inject({ method: 'POST', url, headers: who.headers, payload });
    expect(response.statusCode, `${url}: ${response.body}`).toBe(201);
    return response.json<{ uuid: string }>().uuid;
  };
  const { owner, member } = users;
  const role = await created(owner, '/roles/', {
    name: 'AUDITOR',
    title: 'Auditor',
    permissions: ['USER_VIEW'],
  });
  const group = await created(owner, '/groups/', { name: 'Team', member_uuids: [member.uuid] });
  const list = await created(owner, '/lists/', { name: 'Secret plans' });
  const tag = await created(owner, '/tags/', { name: 'secret' });
  const task = await created(owner, '/tasks/', { title: 'Secret task', list_uuid: list, tags: [tag] });
  const comment = await created(owner, `/tasks/${task}/comments`, { body: 'Secret comment' });
  return {
    users: member.uuid,
    roles: role,
    groups: group,
    lists: list,
    tags: tag,
    tasks: task,
    comments: comment,
  };
}

/**
 * Whether `value` is stored, exactly, in some text column (or as a string anywhere inside some jsonb
 * column) of `schemas`' tables. One statement over every such column, so a test can ask after each write.
 */
export async function storedVerbatim(app: App, schemas: string[], value: string): Promise<boolean> {
  const db = app.core.hosts.db(DEFAULT_HOST);
  const key = schemas.join(',');
  let probe = verbatimProbes.get(key);
  if (!probe) {
    const columns = (
      await sql<{ schema: string; table: string; column: string; type: string }>`
        SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column, c.udt_name AS type
          FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY(${schemas}::text[])
           AND c.udt_name IN ('text', 'varchar', 'citext', 'bpchar', 'jsonb')
         ORDER BY 1, 2, 3`.execute(db)
    ).rows;
    // $1 is the value: one parsed text for every call.
    probe = `SELECT ${columns
      .map(({ schema, table, column, type }) => {
        const where =
          type === 'jsonb'
            ? `jsonb_path_exists(${quote(column)}, '$.** ? (@ == $v)', jsonb_build_object('v', $1::text))`
            : `${quote(column)}::text = $1::text`;
        return `EXISTS (SELECT 1 FROM ${quote(schema)}.${quote(table)} WHERE ${where})`;
      })
      .join(' OR ')} AS found`;
    verbatimProbes.set(key, probe);
  }
  const found = await app.core.hosts.pool(DEFAULT_HOST).query<{ found: boolean }>(probe, [value]);
  return found.rows[0]!.found;
}

const verbatimProbes = new Map<string, string>();
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
