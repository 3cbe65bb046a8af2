/**
 * The safe-writes hooks of every tenant area (issue 19), registered by `withAuth` after authentication:
 *  1. ETags (src/http/etag.ts): a single-resource answer whose JSON carries `version` gets
 *     `ETag: "v<version>"`; a GET whose `If-None-Match` matches it answers 304 without a body.
 *  2. Idempotency keys (src/http/idempotency.ts), whose stored answer includes that ETag.
 * A fastify-plugin, so the hooks land in the area that registers it and nowhere else.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { etagOfPayload, ifNoneMatchHits } from './etag.ts';
import { idempotencyHooks } from './idempotency.ts';
import { ProblemRef } from './problem.ts';

const IdempotencyKey = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x20-\\x7e]+$',
  description:
    'Makes a retry of this write safe: the first answer is kept 24 h and replayed (with ' +
    '`Idempotency-Replayed: true`) to a retry with the same key and the same request; the same key with ' +
    'another request answers 422, a retry while the first still runs 409. 1–255 printable ASCII characters.',
  examples: ['6f1c2a9e-7d44-4b6e-9a53-0c7f1f0b2d11'],
});
const IfMatch = Type.String({
  description:
    'Only change the resource if its current ETag is one of these (strong comparison, `*` = any); ' +
    'otherwise 412 with the current ETag and nothing changed.',
  examples: ['"v3"'],
});
const IfNoneMatch = Type.String({
  description: 'Answer 304 Not Modified without a body when the current ETag is one of these.',
  examples: ['"v3"'],
});

interface RouteSchema {
  headers?: unknown;
  response?: Record<string | number, unknown>;
}

/**
 * Documents (and validates) the headers of this module on every route of the area: Idempotency-Key on
 * writes, If-Match on PUT/PATCH/DELETE, If-None-Match on GET, and the answers they add.
 */
function documentHeaders(route: RouteOptions): void {
  const schema = route.schema as RouteSchema | undefined;
  if (!schema || schema.headers !== undefined) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const response = schema.response ?? {};
  if (methods.includes('GET')) {
    schema.headers = Type.Object({ 'if-none-match': Type.Optional(IfNoneMatch) });
    response[304] = Type.Null({ description: 'Not Modified: the If-None-Match ETag is current' });
  } else if (methods.some((method) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method))) {
    const conditional = !methods.includes('POST');
    schema.headers = Type.Object({
      'idempotency-key': Type.Optional(IdempotencyKey),
      ...(conditional ? { 'if-match': Type.Optional(IfMatch) } : {}),
    });
    response[409] ??= ProblemRef;
    response[422] ??= ProblemRef;
    if (conditional) response[412] = ProblemRef;
  } else return;
  schema.response = response;
}

export const safeWrites = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRoute', documentHeaders);
    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode !== 200 && reply.statusCode !== 201) return payload;
      const etag = reply.hasHeader('etag') ? String(reply.getHeader('etag')) : etagOfPayload(payload);
      if (etag === undefined) return payload;
      reply.header('etag', etag);
      const ifNoneMatch = request.headers['if-none-match'];
      if ((request.method === 'GET' || request.method === 'HEAD') && typeof ifNoneMatch === 'string') {
        if (ifNoneMatchHits(ifNoneMatch, etag)) {
          reply.code(304).removeHeader('content-type').removeHeader('content-length');
          return null;
        }
      }
      return payload;
    });
    idempotencyHooks(app);
  },
  { name: 'tenantry-safe-writes', fastify: '5.x', dependencies: ['tenantry-auth-guard'] },
);
