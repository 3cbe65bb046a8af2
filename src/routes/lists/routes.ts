/**
 * `/lists` (SPEC 4): reading needs TASK_VIEW (lists frame the tasks one may see), changing needs
 * LIST_MANAGE. DELETE archives a list that still holds tasks (lists-service.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { ifMatchOf } from '../../http/etag.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, UuidParams } from '../auth/schemas.ts';
import { actorOf } from '../tasks/routes.ts';
import { todoDb } from '../tasks/tables.ts';
import { ListsService } from './lists-service.ts';
import { CreateListBody, DeleteListAnswer, ListBody, ListQuery, PatchListBody } from './schemas.ts';

const tags = ['lists'];
const listsOf = (request: FastifyRequest) =>
  new ListsService(todoDb(request.tenant.db), request.tenant.schema);

export const listRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/lists/',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'lists.list',
        summary: 'List task lists',
        tags,
        querystring: ListQuery,
        response: { 200: PageOf(ListBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => listsOf(request).page(request.query),
  );

  app.post(
    '/lists/',
    {
      config: { permission: 'LIST_MANAGE' },
      schema: {
        operationId: 'lists.create',
        summary: 'Create a list',
        tags,
        body: CreateListBody,
        response: { 201: ListBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await listsOf(request).create(request.body, actorOf(request))),
  );

  app.get(
    '/lists/:uuid',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'lists.get',
        summary: 'Get a list',
        tags,
        params: UuidParams,
        response: { 200: ListBody, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => listsOf(request).get(request.params.uuid),
  );

  app.patch(
    '/lists/:uuid',
    {
      config: { permission: 'LIST_MANAGE' },
      schema: {
        operationId: 'lists.update',
        summary: 'Update a list (rename, archive, restore)',
        tags,
        params: UuidParams,
        body: PatchListBody,
        response: { 200: ListBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request) => listsOf(request).patch(request.params.uuid, request.body, ifMatchOf(request)),
  );

  app.delete(
    '/lists/:uuid',
    {
      config: { permission: 'LIST_MANAGE' },
      schema: {
        operationId: 'lists.delete',
        summary: 'Delete an empty list or archive one that holds tasks',
        tags,
        params: UuidParams,
        response: { 200: DeleteListAnswer, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => listsOf(request).remove(request.params.uuid, ifMatchOf(request)),
  );
};
