/**
 * `GET /sync` (issue 19): the tenant's changes after a cursor, for delta sync. Anyone who sees tasks may
 * read it (src/routes/sync/feed.ts filters what a role may not see: other users' settings, users).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../http/problem.ts';
import { todoDb } from '../tasks/tables.ts';
import { readFeed } from './feed.ts';
import { SyncPage, SyncQuery } from './schemas.ts';

export const syncRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/sync',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'sync.read',
        summary: 'Changes after a cursor (delta sync)',
        description:
          'Every change of the tenant’s data in commit order, gap-free: apply `items`, keep `cursor`, ask ' +
          'again while `has_more`. A cursor older than the retention (FEED_RETENTION_DAYS) answers 410: ' +
          'reload everything, then continue from the problem’s `head_cursor` taken before the reload.',
        tags: ['sync'],
        querystring: SyncQuery,
        response: { 200: SyncPage, ...problemResponses(400, 401, 403, 404, 410, 503) },
      },
    },
    async (request) =>
      readFeed(
        todoDb(request.tenant.db),
        { userUuid: request.user.uuid, permissions: request.permissions },
        request.query.cursor,
        request.query.limit,
      ),
  );
};
