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

const DEFAULTS = { maxEventLoopDelay: 1_000, maxEventLoopUtilization: 0.98, retryAfter: 5 } as const;

export const overloadProtection = fp(
  async (app: FastifyInstance, limits: OverloadLimits) => {
    const retryAfter = limits.retryAfter ?? DEFAULTS.retryAfter;
    await app.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelay ?? DEFAULTS.maxEventLoopDelay,
      maxEventLoopUtilization: limits.maxEventLoopUtilization ?? DEFAULTS.maxEventLoopUtilization,
      ...(limits.maxHeapUsedBytes ? { maxHeapUsedBytes: limits.maxHeapUsedBytes } : {}),
      ...(limits.sampleInterval ? { sampleInterval: limits.sampleInterval } : {}),
      retryAfter,
      // Returning without sending lets the request through (liveness routes); once a reply is sent,
      // Fastify runs nothing more for the request.
      pressureHandler: (request, reply, type) => {
        if (request.routeOptions.config.skipOverloadCheck) return;
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
