/**
 * The TODO areas (lists, tasks, comments, tags), registered by buildApp with one line. Each is a tenant
 * area behind `withAuth` (tenant header → token → declared permission); registered after the accounts
 * areas, whose plugin provides the auth decorations.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { withAuth } from '../../auth/auth-plugin.ts';
import { commentRoutes } from '../comments/routes.ts';
import { listRoutes } from '../lists/routes.ts';
import { syncRoutes } from '../sync/routes.ts';
import { tagRoutes } from '../tags/routes.ts';
import { webhookRoutes } from '../webhooks/routes.ts';
import { taskRoutes } from './routes.ts';

export const todoAreas = fp(
  async (app: FastifyInstance) => {
    await app.register(withAuth(listRoutes));
    await app.register(withAuth(taskRoutes));
    await app.register(withAuth(commentRoutes));
    await app.register(withAuth(tagRoutes));
    await app.register(withAuth(syncRoutes));
    await app.register(withAuth(webhookRoutes));
  },
  { name: 'tenantry-todo-areas', fastify: '5.x', dependencies: ['tenantry-account-areas'] },
);
