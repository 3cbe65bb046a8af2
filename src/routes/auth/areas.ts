/**
 * Everything of the accounts issue, registered by buildApp with one line: the account machinery
 * (`app.accounts`, request.user …, the tenant route table) and the route areas auth, users, roles,
 * groups, settings. It is a fastify-plugin so `app.accounts` and the auth decorations reach the areas
 * registered after it (lists, tasks, tags use `withAuth` the same way).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { accountsPlugin } from '../../auth/accounts-plugin.ts';
import { withAuth } from '../../auth/auth-plugin.ts';
import { groupRoutes } from '../groups/routes.ts';
import { roleRoutes } from '../roles/routes.ts';
import { settingsRoutes } from '../settings/routes.ts';
import { tokenRoutes } from '../tokens/routes.ts';
import { userRoutes } from '../users/routes.ts';
import { authFlowRoutes, authSessionRoutes } from './routes.ts';

/**
 * A write in these areas (logout, role or permission change, deactivation, deletion, profile…) drops the
 * tenant's cached principals in THIS process before the answer leaves, so this process's next request
 * reads them again even if its own NOTIFY (tenant revision 3b8d51c0e6a4) has not been read yet; every
 * other process hears the NOTIFY (src/auth/principal-cache.ts).
 */
function principalWrites(routes: FastifyPluginAsync): FastifyPluginAsync {
  return async (scope, options) => {
    scope.addHook('onSend', async (request, reply, payload) => {
      // Only a success wrote anything (and only then is the tenant surely resolved).
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400)
        scope.accounts.principals.invalidate(request.tenant.id);
      return payload;
    });
    await scope.register(routes, options);
  };
}

export const accountAreas = fp(
  async (app: FastifyInstance) => {
    await app.register(accountsPlugin);
    await app.register(authFlowRoutes);
    await app.register(withAuth(principalWrites(authSessionRoutes)));
    await app.register(withAuth(principalWrites(userRoutes)));
    await app.register(withAuth(principalWrites(roleRoutes)));
    await app.register(withAuth(principalWrites(groupRoutes)));
    await app.register(withAuth(principalWrites(settingsRoutes)));
    // Scoped personal API tokens (issue 19).
    await app.register(withAuth(tokenRoutes));
  },
  { name: 'tenantry-account-areas', fastify: '5.x', dependencies: ['tenantry-tenancy'] },
);
