/**
 * After every successful tenant write (any route, any area), ask for the delivery jobs of the tenant's
 * enabled webhooks, so events go out within moments. Changes made outside a request are picked up by the
 * `webhook-sweep` cron task (delivery.ts, every 5 minutes). A failure here only delays deliveries until that sweep.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { TenantContext } from '../../tenancy/tenant-plugin.ts';
import { announceChanges } from './delivery.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

function tenantOf(request: FastifyRequest): TenantContext | undefined {
  try {
    return request.tenant;
  } catch {
    // Not a tenant route (the getter throws outside a tenant scope).
    return undefined;
  }
}

export const webhookDispatch = fp(
  async (app: FastifyInstance) => {
    app.addHook('onResponse', async (request, reply) => {
      if (READS.has(request.method) || reply.statusCode >= 400) return;
      const tenant = tenantOf(request);
      if (!tenant) return;
      try {
        await announceChanges(app.core, tenant.id, tenant.host);
      } catch (error) {
        request.log.warn({ err: error }, 'webhook deliveries not announced (the sweep will pick them up)');
      }
    });
  },
  { name: 'tenantry-webhook-dispatch', fastify: '5.x', dependencies: ['tenantry-jobs'] },
);
