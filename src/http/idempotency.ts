/**
 * `Idempotency-Key` on every write of a tenant area (issue 19; semantics of the IETF httpapi draft
 * "The Idempotency-Key HTTP Header Field"):
 *
 *  - the first POST/PUT/PATCH/DELETE with a key runs; its answer (status, body, Content-Type, Location,
 *    ETag) is kept per tenant and user for 24 h (src/http/idempotency-store.ts);
 *  - a retry with the same key and the same request (SHA-256 of method, path with query, and body) gets
 *    that answer again with `Idempotency-Replayed: true`, and changes nothing;
 *  - the same key with another request → 422; a retry while the first still runs → 409 + Retry-After;
 *  - a key that is not 1–255 printable ASCII characters → 400.
 *
 * Answers that are not final are not kept: a 5xx or 429 releases the key, so the retry runs the request.
 * Validation errors (400) come before the key is even claimed.
 *
 * Why not in the write's own transaction: each route opens its transactions itself (several per request
 * in places, some on raw pooled clients), so the key is claimed in its own short transaction before the
 * handler and completed in another one after it. The crash window this accepts: a process killed after
 * the write committed and before the answer was stored (one UPDATE) leaves the key `running`; retries
 * get 409 until its lease ends (LEASE_SECONDS), and then one retry runs the request a second time. Any
 * other failure (the handler throws, the database is gone) either stores the answer or releases the key.
 *
 * Public routes (no user) ignore the header: keys are scoped to a user.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PUBLIC } from '../auth/permissions.ts';
import { IdempotencyStore, type KeyRef, type StoredAnswer } from './idempotency-store.ts';
import { problems } from './problem.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotency-replayed';
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** 1–255 printable ASCII characters (space included; Node has trimmed the ends). */
const KEY = /^[\x20-\x7e]{1,255}$/;
/** Headers of the first answer that a replay repeats. */
const KEPT_HEADERS = ['content-type', 'location', 'etag', 'content-disposition'] as const;

const claimSlot: unique symbol = Symbol('tenantry.idempotency');

declare module 'fastify' {
  interface FastifyRequest {
    [claimSlot]: KeyRef | null;
  }
}

/** What makes two requests "the same" for a key: method, path with query string, body. */
function fingerprintOf(request: FastifyRequest): Buffer {
  const body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null);
  return createHash('sha256')
    .update(`${request.method}\n${request.url}\n`)
    .update(body ?? '')
    .digest();
}

function keyOf(request: FastifyRequest): string | undefined {
  if (!WRITES.has(request.method)) return undefined;
  const raw = request.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !KEY.test(raw))
    throw problems.badRequest('Idempotency-Key must be 1 to 255 printable ASCII characters', [
      { path: '/headers/idempotency-key', message: 'must be 1 to 255 printable ASCII characters' },
    ]);
  if (request.routeOptions.config.permission === PUBLIC) return undefined;
  return raw;
}

function replay(reply: FastifyReply, answer: StoredAnswer): FastifyReply {
  reply.code(answer.status).headers(answer.headers).header(REPLAYED_HEADER, 'true');
  return reply.send(answer.body ?? null);
}

/** Not kept: the request may succeed when retried. */
const transient = (status: number) => status >= 500 || status === 429 || status === 408;

/** Registers the hooks on a tenant area, after authentication (`request.user`). */
export function idempotencyHooks(app: FastifyInstance): void {
  app.decorateRequest(claimSlot, null);

  app.addHook('preHandler', async (request, reply) => {
    const key = keyOf(request);
    if (key === undefined) return;
    const ref: KeyRef = { userId: request.user.id, key };
    const store = new IdempotencyStore(request.tenant.db);
    const claim = await store.claim(ref, fingerprintOf(request), request.method, request.url);
    switch (claim.kind) {
      case 'claimed':
        request[claimSlot] = ref;
        return;
      case 'mismatch':
        throw problems.unprocessable(
          'This Idempotency-Key was used for a different request; use a new key for a new request',
          [{ path: '/headers/idempotency-key', message: 'already used for a different request' }],
        );
      case 'running': {
        const problem = problems.conflict(
          'A request with this Idempotency-Key is still being processed; retry shortly',
        );
        problem.extras.headers = { 'retry-after': '1' };
        throw problem;
      }
      case 'done':
        return replay(reply, claim.answer);
    }
  });

  // Runs after the ETag hook (registered first by safe-writes.ts), so the kept answer has its ETag.
  app.addHook('onSend', async (request, reply, payload) => {
    const ref = request[claimSlot];
    if (!ref) return payload;
    request[claimSlot] = null;
    const store = new IdempotencyStore(request.tenant.db);
    try {
      if (transient(reply.statusCode) || (payload !== null && typeof payload !== 'string')) {
        await store.release(ref);
        return payload;
      }
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      await store.complete(ref, { status: reply.statusCode, headers, body: payload });
    } catch (error) {
      // The write is done; its answer goes out even if it could not be kept (the lease covers retries).
      request.log.warn({ err: error }, 'could not store the answer of an Idempotency-Key');
    }
    return payload;
  });
}
