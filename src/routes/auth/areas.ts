/**
 * Everything of the accounts issue, registered by buildApp with one line: the account machinery
 * (`app.accounts`, request.user …, the tenant route table) and the route areas auth, users, roles,
 * groups, settings. It is a fastify-plugin so `app.accounts` and the auth decorations reach the areas
 * registered after it (lists, tasks, tags use `withAuth` the same way).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { accountsPlugin } from '../../auth/accounts-plugin.ts';
import { withAuth } from '../../auth/auth-plugin.ts';
import { groupRoutes } from '../groups/routes.ts';
import { roleRoutes } from '../roles/routes.ts';
import { settingsRoutes } from '../settings/routes.ts';
import { tokenRoutes } from '../tokens/routes.ts';
import { userRoutes } from '../users/routes.ts';
import { authFlowRoutes, authSessionRoutes } from './routes.ts';

export const accountAreas = fp(
  async (app: FastifyInstance) => {
    await app.register(accountsPlugin);
    await app.register(authFlowRoutes);
    await app.register(withAuth(authSessionRoutes));
    await app.register(withAuth(userRoutes));
    await app.register(withAuth(roleRoutes));
    await app.register(withAuth(groupRoutes));
    await app.register(withAuth(settingsRoutes));
    // Scoped personal API tokens (issue 19).
    await app.register(withAuth(tokenRoutes));
  },
  { name: 'tenantry-account-areas', fastify: '5.x', dependencies: ['tenantry-tenancy'] },
);
