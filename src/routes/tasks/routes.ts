/**
 * `/tasks` (SPEC 4): listing with filters, sort and pagination, CRUD with soft delete and restore, the
 * timeline, stats and the CSV export. Registered inside `withAuth`: each route declares its permission.
 * Comments of a task live in src/routes/comments.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ifMatchOf } from '../../http/etag.ts';
import { sendJsonText } from '../../http/json-text.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, PageQuery, UuidParams } from '../auth/schemas.ts';
import {
  CreateTaskBody,
  EventBody,
  PatchTaskBody,
  StatsBody,
  StatsQuery,
  TaskBody,
  TaskExportQuery,
  TaskListQuery,
} from './schemas.ts';
import { todoDb } from './tables.ts';
import { exportTasks } from './task-export.ts';
import { statsRange, taskStats } from './task-stats.ts';
import { type Actor, filtersOf, TasksService } from './tasks-service.ts';

const tags = ['tasks'];

export const tasksOf = (request: FastifyRequest) =>
  new TasksService(todoDb(request.tenant.db), request.tenant.schema);
export const actorOf = (request: FastifyRequest): Actor => ({ id: request.user.id, uuid: request.user.uuid });

export const taskRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/tasks/',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'tasks.list',
        summary: 'List tasks (filters, sorting, search)',
        tags,
        querystring: TaskListQuery,
        response: { 200: PageOf(TaskBody), ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request, reply) =>
      sendJsonText(reply, await tasksOf(request).page(request.query, actorOf(request))),
  );

  app.post(
    '/tasks/',
    {
      config: { permission: 'TASK_ADD' },
      schema: {
        operationId: 'tasks.create',
        summary: 'Create a task',
        tags,
        body: CreateTaskBody,
        response: { 201: TaskBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request, reply) =>
      sendJsonText(reply, await tasksOf(request).create(request.body, actorOf(request)), 201),
  );

  app.get(
    '/tasks/stats',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'tasks.stats',
        summary: 'Task statistics (by status, priority, overdue, completed per day)',
        tags,
        querystring: StatsQuery,
        response: { 200: StatsBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request) => {
      const tz = request.user.tz;
      const range = statsRange(tz, request.query.from, request.query.to);
      const filters = filtersOf({ list: request.query.list }, actorOf(request));
      return taskStats(todoDb(request.tenant.db), filters, range, tz);
    },
  );

  app.get(
    '/tasks/export',
    {
      config: { permission: 'TASK_EXPORT' },
      schema: {
        operationId: 'tasks.export',
        summary: 'Export tasks as CSV',
        tags,
        querystring: TaskExportQuery,
        produces: ['text/csv'],
        // 200 is a CSV stream (one task per line), not JSON: no response schema.
        response: problemResponses(400, 401, 403, 404, 422),
      },
    },
    async (request, reply) => {
      const filters = filtersOf(request.query, actorOf(request));
      // Started (first batch read) before any header is set, so a failure is an ordinary problem answer.
      const csv = await exportTasks(todoDb(request.tenant.db), filters);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="tasks.csv"')
        .send(csv);
    },
  );

  app.get(
    '/tasks/:uuid',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'tasks.get',
        summary: 'Get a task',
        tags,
        params: UuidParams,
        response: { 200: TaskBody, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => sendJsonText(reply, await tasksOf(request).get(request.params.uuid)),
  );

  app.patch(
    '/tasks/:uuid',
    {
      config: { permission: 'TASK_EDIT' },
      schema: {
        operationId: 'tasks.update',
        summary: 'Update a task (partial; moves, status, assignees, tags)',
        tags,
        params: UuidParams,
        body: PatchTaskBody,
        response: { 200: TaskBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request, reply) =>
      sendJsonText(
        reply,
        await tasksOf(request).patch(request.params.uuid, request.body, actorOf(request), ifMatchOf(request)),
      ),
  );

  app.delete(
    '/tasks/:uuid',
    {
      config: { permission: 'TASK_DELETE' },
      schema: {
        operationId: 'tasks.delete',
        summary: 'Delete a task (soft delete)',
        tags,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await tasksOf(request).setDeleted(request.params.uuid, true, actorOf(request), ifMatchOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/tasks/:uuid/restore',
    {
      config: { permission: 'TASK_DELETE' },
      schema: {
        operationId: 'tasks.restore',
        summary: 'Restore a deleted task',
        tags,
        params: UuidParams,
        response: { 200: TaskBody, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      const task = await tasksOf(request).setDeleted(request.params.uuid, false, actorOf(request));
      if (!task) throw new Error('restore returned no task');
      return sendJsonText(reply, task);
    },
  );

  app.get(
    '/tasks/:uuid/events',
    {
      config: { permission: 'TASK_VIEW' },
      schema: {
        operationId: 'tasks.events',
        summary: "A task's timeline of changes",
        tags,
        params: UuidParams,
        querystring: Type.Object(
          { page: PageQuery.page, size: PageQuery.size },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(EventBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => tasksOf(request).events(request.params.uuid, request.query.page, request.query.size),
  );
};
