/**
 * /tokens (issue 19): personal API tokens limited to scopes. Signed-in users only (`authenticated-only`,
 * which API tokens themselves may not call: a token cannot mint or revoke tokens, auth-plugin.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AUTHENTICATED } from '../../auth/permissions.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, UuidParams } from '../auth/schemas.ts';
import { CreatedTokenBody, CreateTokenBody, TokenBody, TokenListQuery } from './schemas.ts';
import { type TokenActor, TokensService } from './tokens-service.ts';

const tags = ['tokens'];
const tokensOf = (request: FastifyRequest) => new TokensService(request.tenant.db);
const actorOf = (request: FastifyRequest): TokenActor => ({
  id: request.user.id,
  permissions: request.permissions,
});

export const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokens/',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'tokens.create',
        summary: 'Create a personal API token limited to some of your permissions (shown once)',
        description:
          'Use it as `Authorization: Bearer tnt_…` with the `tenant` header. Requests get the ' +
          'permissions in `scopes` that your role still holds; they are logged with the token name.',
        tags,
        body: CreateTokenBody,
        response: { 201: CreatedTokenBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await tokensOf(request).create(request.body, actorOf(request))),
  );

  app.get(
    '/tokens/',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'tokens.list',
        summary: 'List API tokens: your own, or every user’s for holders of USER_EDIT',
        tags,
        querystring: TokenListQuery,
        response: { 200: PageOf(TokenBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => tokensOf(request).page(actorOf(request), request.query),
  );

  app.delete(
    '/tokens/:uuid',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'tokens.revoke',
        summary: 'Revoke an API token (yours, or anyone’s for holders of USER_EDIT)',
        tags,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await tokensOf(request).revoke(request.params.uuid, actorOf(request));
      return reply.code(204).send(null);
    },
  );
};
