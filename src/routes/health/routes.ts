/**
 * Liveness and readiness: `GET /health` (the process answers), `GET /health/db` (every configured
 * database host answers a query; 503 problem+json naming the hosts that do not), `GET /` (name, version,
 * and the tenant header echoed back as the predecessor did). `/health/db` also reports the job queue
 * (src/jobs/admin.ts): jobs pending, running and failed for good, and how long the oldest due job has
 * waited — a growing age means no process is running jobs.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import { problemResponses, problems } from '../../http/problem.ts';
import { queueStats } from '../../jobs/admin.ts';
import { NAME, VERSION } from '../../version.ts';

const HOST_CHECK_TIMEOUT_MS = 2_000;

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/',
    {
      schema: {
        operationId: 'root.info',
        summary: 'Service name, version and tenant',
        tags: ['health'],
        headers: Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: {
          200: Type.Object({
            name: Type.String(),
            version: Type.String(),
            tenant: Type.Union([Type.String(), Type.Null()]),
          }),
          ...problemResponses(400, 503),
        },
      },
    },
    async (request) => ({ name: NAME, version: VERSION, tenant: request.headers.tenant ?? null }),
  );

  app.get(
    '/health',
    {
      config: { skipOverloadCheck: true },
      schema: {
        operationId: 'health.process',
        summary: 'Liveness of the server process',
        tags: ['health'],
        // 503 only while the server shuts down (src/app.ts); overload never refuses this route.
        response: {
          200: Type.Object({ status: Type.Literal('ok'), uptime_s: Type.Number() }),
          ...problemResponses(503),
        },
      },
    },
    async () => ({ status: 'ok' as const, uptime_s: Math.round(process.uptime()) }),
  );

  app.get(
    '/health/db',
    {
      schema: {
        operationId: 'health.database',
        summary: 'Reachability of every database host',
        tags: ['health'],
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            hosts: Type.Record(
              Type.String(),
              Type.Object({ status: Type.String(), latency_ms: Type.Number() }),
            ),
            queue: Type.Union([
              Type.Object({
                pending: Type.Integer(),
                running: Type.Integer(),
                failed: Type.Integer(),
                oldest_pending_age_s: Type.Union([Type.Integer(), Type.Null()]),
              }),
              Type.Null(),
            ]),
          }),
          ...problemResponses(503),
        },
      },
    },
    async () => {
      const { hosts } = app.core;
      const results = await Promise.all(
        hosts.names().map(async (host) => {
          const started = performance.now();
          try {
            await withTimeout(sql`SELECT 1`.execute(hosts.db(host)), HOST_CHECK_TIMEOUT_MS);
            return [host, { status: 'ok', latency_ms: Math.round(performance.now() - started) }] as const;
          } catch {
            return [host, { status: 'down', latency_ms: Math.round(performance.now() - started) }] as const;
          }
        }),
      );
      const down = results.filter(([, result]) => result.status !== 'ok').map(([host]) => host);
      if (down.length > 0)
        throw problems.unavailable(`database host(s) not answering: ${down.join(', ')}`, 5);
      const queue = await withTimeout(queueStats(hosts.db()), HOST_CHECK_TIMEOUT_MS).catch(() => null);
      return { status: 'ok' as const, hosts: Object.fromEntries(results), queue };
    },
  );
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
