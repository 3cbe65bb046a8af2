/**
 * Comments (SPEC 4): `GET/POST /tasks/{uuid}/comments`, `PATCH/DELETE /comments/{uuid}`. Seeing a task
 * (TASK_VIEW) is enough to read and write comments; who may edit or delete one is an ownership rule
 * checked by comments-service.ts (author or TASK_EDIT).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ifMatchOf } from '../../http/etag.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, PageQuery, UuidParams } from '../auth/schemas.ts';
import { actorOf } from '../tasks/routes.ts';
import { todoDb } from '../tasks/tables.ts';
import { CommentsService } from './comments-service.ts';
import { CommentBody, WriteCommentBody } from './schemas.ts';

const tags = ['comments'];
const commentsOf = (request: FastifyRequest) =>
  new CommentsService(todoDb(request.tenant.db), request.tenant.schema);

export const commentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/tasks/:uuid/comments',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'comments.list',
        summary: "List a task's comments",
        tags,
        params: UuidParams,
        querystring: Type.Object(
          { page: PageQuery.page, size: PageQuery.size },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(CommentBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => commentsOf(request).page(request.params.uuid, request.query.page, request.query.size),
  );

  app.post(
    '/tasks/:uuid/comments',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'comments.create',
        summary: 'Comment on a task',
        tags,
        params: UuidParams,
        body: WriteCommentBody,
        response: { 201: CommentBody, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await commentsOf(request).create(request.params.uuid, request.body.body, actorOf(request))),
  );

  app.patch(
    '/comments/:uuid',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'comments.update',
        summary: 'Edit a comment',
        tags,
        params: UuidParams,
        body: WriteCommentBody,
        response: { 200: CommentBody, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const actor = { ...actorOf(request), permissions: request.permissions };
      const comment = await commentsOf(request).change(
        request.params.uuid,
        request.body.body,
        actor,
        ifMatchOf(request),
      );
      if (!comment) throw new Error('an edited comment has a body');
      return comment;
    },
  );

  app.delete(
    '/comments/:uuid',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'comments.delete',
        summary: 'Delete a comment',
        tags,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await commentsOf(request).change(
        request.params.uuid,
        null,
        { ...actorOf(request), permissions: request.permissions },
        ifMatchOf(request),
      );
      return reply.code(204).send(null);
    },
  );
};
