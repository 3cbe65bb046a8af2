/**
 * Overload protection (SPEC 11): past the limits every request is answered at once with 503 +
 * Retry-After instead of queueing without bound. `/health` stays answerable (it opts out), so a
 * load balancer can tell "alive but shedding load" from "dead".
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface OverloadLimits {
  /** Mean event-loop delay (ms) above which requests are shed. */
  maxEventLoopDelay?: number;
  /** Event-loop utilisation (0..1) above which requests are shed. */
  maxEventLoopUtilization?: number;
  /** Heap in use (bytes) above which requests are shed. */
  maxHeapUsedBytes?: number;
  /** How often the figures are sampled (ms). */
  sampleInterval?: number;
  /** Seconds clients are told to wait. */
  retryAfter?: number;
}

// Only event-loop delay by default: a mean delay of a second means requests already queue for a second.
// Utilisation near 1 alone is not overload (it is also what a busy, healthy server or start-up looks like).
const DEFAULTS = { maxEventLoopDelay: 1_000, retryAfter: 5 } as const;
const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;

export const overloadProtection = fp(
  async (app: FastifyInstance, limits: OverloadLimits) => {
    const retryAfter = limits.retryAfter ?? DEFAULTS.retryAfter;
    const sampleInterval = limits.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL_MS;
    // The first samples after start-up measure the start-up itself (module loading, plugin setup), not
    // request load; shedding then would refuse the first requests of a healthy server.
    let measuringSince = Number.POSITIVE_INFINITY;
    app.addHook('onReady', async () => {
      measuringSince = performance.now() + 2 * sampleInterval;
    });
    await app.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelay ?? DEFAULTS.maxEventLoopDelay,
      ...(limits.maxEventLoopUtilization ? { maxEventLoopUtilization: limits.maxEventLoopUtilization } : {}),
      ...(limits.maxHeapUsedBytes ? { maxHeapUsedBytes: limits.maxHeapUsedBytes } : {}),
      sampleInterval,
      retryAfter,
      // Returning without sending lets the request through (liveness routes); once a reply is sent,
      // Fastify runs nothing more for the request.
      pressureHandler: (request, reply, type) => {
        if (request.routeOptions.config.skipOverloadCheck || performance.now() < measuringSince) return;
        reply
          .code(503)
          .header('retry-after', String(retryAfter))
          .type('application/problem+json')
          .send({
            type: 'https://tenantry.dev/problems/unavailable',
            title: 'Service unavailable',
            status: 503,
            detail: `The server is overloaded (${type}); try again shortly`,
            instance: request.url,
          });
      },
    });
  },
  { name: 'tenantry-overload' },
);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Serve this route even under pressure (liveness checks). */
    skipOverloadCheck?: boolean;
  }
}
