/**
 * What the OpenAPI document (`/docs/json`) says beyond the route schemas themselves (issue 14: the
 * document must be usable by generated clients and contract-validating proxies).
 *
 * A query parameter (or header) with a `default` is optional for the client: the validator fills the
 * default in (ajv `useDefaults`) before it checks `required`. TypeBox lists such properties as required
 * (the handler always sees them), and @fastify/swagger turned that into `required: true`, so a client
 * generated from the document refused to omit `page` or `size`. This transform drops them from
 * `required` in the document only; validation keeps the route's schema as written. Routes added later
 * are covered without being edited (test/http/openapi.test.ts walks the whole document).
 *
 * Error answers are documented with their real media type and a description (`documentedErrors`).
 */
import type { SwaggerTransform } from '@fastify/swagger';

interface ObjectSchema {
  properties?: Record<string, { default?: unknown }>;
  required?: string[];
  allOf?: ObjectSchema[];
}

/** A copy of `schema` whose `required` lists no property that has a default (also inside allOf). */
export function withoutDefaultedRequired<T>(schema: T): T {
  if (!schema || typeof schema !== 'object') return schema;
  const object = schema as ObjectSchema;
  const copy: ObjectSchema = { ...object };
  if (object.required && object.properties) {
    const properties = object.properties;
    copy.required = object.required.filter((name) => properties[name]?.default === undefined);
  }
  if (object.allOf) copy.allOf = object.allOf.map((part) => withoutDefaultedRequired(part));
  return copy as T;
}

/** What each error status means across the API (README, "HTTP API"). */
const ERROR_MEANINGS: Record<string, string> = {
  400: 'Bad input: validation errors are listed in `errors`',
  401: 'No bearer token, or an invalid, expired or revoked one',
  403: 'The role lacks the permission this operation needs, or the account or tenant is not allowed',
  404: 'Not found (also for ids of another tenant, and for an unknown tenant)',
  409: 'Conflict with the current state (e.g. a name or e-mail already in use), or a request with the same Idempotency-Key still running',
  412: 'If-Match no longer matches: the resource changed; the `ETag` header names its current version',
  413: 'The body is too large',
  422: 'The request is well-formed but breaks a rule (e.g. an id that does not exist here), or its Idempotency-Key was used for another request',
  429: 'Rate limited: retry after `Retry-After` seconds',
  503: 'Overloaded, shutting down, database unreachable or tenant migration failed: retry after `Retry-After` seconds',
};

/**
 * Error answers are documented as what they are on the wire: `application/problem+json` with the shared
 * Problem schema and a description of the status (a CSV route's errors are problem+json too, not CSV).
 */
function documentedErrors(response: unknown): unknown {
  if (!response || typeof response !== 'object') return response;
  const copy: Record<string, unknown> = { ...response };
  for (const [status, schema] of Object.entries(copy)) {
    if (!/^[45]\d\d$/.test(status)) continue;
    copy[status] = {
      description: ERROR_MEANINGS[status] ?? 'Error (problem details)',
      content: { 'application/problem+json': { schema } },
    };
  }
  return copy;
}

/**
 * A route that streams a non-JSON answer (`produces: ['text/csv']`) declares no 2xx schema — a typed
 * one would make Fastify's types refuse the stream — so its success answer is documented here as text
 * of that media type.
 */
function withStreamedAnswer(response: unknown, schema: { produces?: readonly string[] }): unknown {
  const media = schema.produces?.find((type) => !type.includes('json'));
  if (!media || !response || typeof response !== 'object') return response;
  if (Object.keys(response).some((status) => /^2/.test(status))) return response;
  return {
    200: {
      description: `The answer as ${media}, streamed`,
      content: { [media]: { schema: { type: 'string' } } },
    },
    ...response,
  };
}

export const openapiTransform: SwaggerTransform = ({ schema, url }) => {
  if (!schema) return { schema, url };
  const documented = { ...schema };
  if (schema.querystring) documented.querystring = withoutDefaultedRequired(schema.querystring);
  if (schema.headers) documented.headers = withoutDefaultedRequired(schema.headers);
  if (schema.response) documented.response = withStreamedAnswer(documentedErrors(schema.response), schema);
  return { schema: documented, url };
};
