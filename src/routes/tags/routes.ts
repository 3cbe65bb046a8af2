/**
 * `/tags` (SPEC 4): anyone who sees tasks sees the tags; creating, renaming and deleting needs
 * TAG_MANAGE. Putting an existing tag on a task is a task edit (PATCH /tasks/{uuid}, TASK_EDIT).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ifMatchOf } from '../../http/etag.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, UuidParams } from '../auth/schemas.ts';
import { actorOf } from '../tasks/routes.ts';
import { todoDb } from '../tasks/tables.ts';
import { CreateTagBody, DeleteTagQuery, PatchTagBody, TagBody, TagQuery } from './schemas.ts';
import { TagsService } from './tags-service.ts';

const tags = ['tags'];
const tagsOf = (request: FastifyRequest) => new TagsService(todoDb(request.tenant.db));

export const tagRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/tags/',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'tags.list',
        summary: 'List tags',
        tags,
        querystring: TagQuery,
        response: { 200: PageOf(TagBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => tagsOf(request).page(request.query),
  );

  app.post(
    '/tags/',
    {
      config: { permission: 'TAG_MANAGE' },
      schema: {
        operationId: 'tags.create',
        summary: 'Create a tag',
        tags,
        body: CreateTagBody,
        response: { 201: TagBody, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => reply.code(201).send(await tagsOf(request).create(request.body)),
  );

  app.patch(
    '/tags/:uuid',
    {
      config: { permission: 'TAG_MANAGE' },
      schema: {
        operationId: 'tags.update',
        summary: 'Update a tag',
        tags,
        params: UuidParams,
        body: PatchTagBody,
        response: { 200: TagBody, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => tagsOf(request).patch(request.params.uuid, request.body, ifMatchOf(request)),
  );

  app.delete(
    '/tags/:uuid',
    {
      config: { permission: 'TAG_MANAGE' },
      schema: {
        operationId: 'tags.delete',
        summary: 'Delete a tag (force=true when in use)',
        tags,
        params: UuidParams,
        querystring: DeleteTagQuery,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      await tagsOf(request).remove(
        request.params.uuid,
        request.query.force,
        actorOf(request),
        ifMatchOf(request),
      );
      return reply.code(204).send(null);
    },
  );
};
