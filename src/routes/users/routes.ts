/**
 * /users (SPEC 4): list, count, export, import, get, create, patch, delete. Each route declares its
 * permission; the auth guard (withAuth) enforces it. Handlers only translate HTTP ↔ service calls.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { accountDb } from '../../auth/tables.ts';
import { ifMatchOf } from '../../http/etag.ts';
import { sendJsonText } from '../../http/json-text.ts';
import { problemResponses } from '../../http/problem.ts';
import { UuidParams } from '../auth/schemas.ts';
import { toCsv } from './csv.ts';
import {
  CreateUserBody,
  ImportResultSchema,
  PatchUserBody,
  UserCountQuery,
  UserListQuery,
  UserPageSchema,
  UserSchema,
} from './schemas.ts';
import { IMPORT_MAX_ROWS, UsersImport } from './users-import.ts';
import { type Actor, UsersService } from './users-service.ts';

const tags = ['users'];
const security = [{ bearer: [], tenant: [] }];
/** 1,000 rows of a few hundred bytes; a bigger body is a 413 before parsing. */
const IMPORT_BODY_LIMIT = 512 * 1024;

export const EXPORT_COLUMNS = [
  'email',
  'first_name',
  'last_name',
  'role',
  'phone',
  'tz',
  'lang',
  'is_active',
  'is_verified',
  'created_at',
];

export const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new UsersService(app.accounts);
  const importer = new UsersImport(app.accounts, service);
  const actorOf = async (request: FastifyRequest): Promise<Actor> => ({
    tenant: request.tenant,
    company: (await app.registryCache.get(request.tenant.id))?.name ?? request.tenant.id,
    user: request.user,
    permissions: request.permissions,
  });

  // CSV bodies (import) arrive as text; only this area accepts them.
  app.addContentTypeParser(
    ['text/csv', 'text/plain'],
    { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT },
    (_request, body, done) => {
      done(null, body);
    },
  );

  app.get(
    '/users/',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'users.list',
        summary: 'List users (paginated, searchable)',
        tags,
        security,
        querystring: UserListQuery,
        response: { 200: UserPageSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) =>
      sendJsonText(
        reply,
        await service.list(accountDb(request.tenant.db), request.tenant.schema, request.query),
      ),
  );

  app.get(
    '/users/count',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'users.count',
        summary: 'Count users',
        tags,
        security,
        querystring: UserCountQuery,
        response: { 200: Type.Object({ count: Type.Integer() }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => ({ count: await service.count(accountDb(request.tenant.db), request.query.search) }),
  );

  app.get(
    '/users/export',
    {
      config: { permission: 'USER_EXPORT' },
      schema: {
        operationId: 'users.export',
        summary: 'Export users as CSV',
        tags,
        security,
        produces: ['text/csv'],
        response: {
          200: Type.String({ description: 'CSV (;-separated, UTF-8 with BOM)' }),
          ...problemResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const users = await service.exportRows(accountDb(request.tenant.db));
      const rows = users.map((user) => [
        user.email,
        user.first_name,
        user.last_name,
        user.role.name,
        user.phone ?? '',
        user.tz,
        user.lang,
        String(user.is_active),
        String(user.is_verified),
        user.created_at,
      ]);
      const date = new Date().toISOString().slice(0, 10);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="users-${request.tenant.id}-${date}.csv"`)
        .send(toCsv([EXPORT_COLUMNS, ...rows]));
    },
  );

  app.post(
    '/users/import',
    {
      config: { permission: 'USER_IMPORT' },
      schema: {
        operationId: 'users.import',
        summary: 'Import users from CSV (all or nothing)',
        tags,
        security,
        description: `CSV (text/csv), header row required: email, first_name, last_name[, role, phone, tz, lang]; at most ${IMPORT_MAX_ROWS} rows; all or nothing.`,
        consumes: ['text/csv'],
        body: Type.String({ minLength: 1, maxLength: IMPORT_BODY_LIMIT }),
        response: { 201: ImportResultSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await importer.run(await actorOf(request), request.body)),
  );

  app.get(
    '/users/:uuid',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'users.get',
        summary: 'Get a user',
        tags,
        security,
        params: UuidParams,
        response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => service.get(accountDb(request.tenant.db), request.params.uuid),
  );

  app.post(
    '/users/',
    {
      config: { permission: 'USER_ADD' },
      schema: {
        operationId: 'users.create',
        summary: 'Create a user (with a password or by invitation)',
        tags,
        security,
        description:
          'With `password`: an active user. Without: an invitation e-mail lets the user choose one.',
        body: CreateUserBody,
        response: { 201: UserSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await service.create(await actorOf(request), request.body)),
  );

  app.patch(
    '/users/:uuid',
    {
      config: { permission: 'USER_EDIT' },
      schema: {
        operationId: 'users.update',
        summary: 'Update a user',
        tags,
        security,
        params: UuidParams,
        body: PatchUserBody,
        response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request) =>
      service.patch(await actorOf(request), request.params.uuid, request.body, ifMatchOf(request)),
  );

  app.delete(
    '/users/:uuid',
    {
      config: { permission: 'USER_DELETE' },
      schema: {
        operationId: 'users.delete',
        summary: 'Delete a user (soft delete, revokes sessions)',
        tags,
        security,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.delete(await actorOf(request), request.params.uuid, ifMatchOf(request));
      return reply.code(204).send(null);
    },
  );
};
