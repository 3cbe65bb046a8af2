/** /roles (SPEC 4): reading needs USER_VIEW (choosing a role for a user); changing needs ROLE_MANAGE. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { accountDb } from '../../auth/tables.ts';
import { problemResponses } from '../../http/problem.ts';
import { PermissionName, UuidParams } from '../auth/schemas.ts';
import { RolesService } from './roles-service.ts';

const tags = ['roles'];
const security = [{ bearer: [], tenant: [] }];

const RoleSchema = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  title: Type.String(),
  description: Type.String(),
  is_system: Type.Boolean(),
  permissions: Type.Array(Type.String()),
  user_count: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

const RoleName = Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,49}$', description: 'UPPER_SNAKE_CASE' });
const Title = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Description = Type.String({ maxLength: 1000 });
const Permissions = Type.Array(PermissionName, { uniqueItems: true, maxItems: 64 });

const CreateRoleBody = Type.Object(
  { name: RoleName, title: Title, description: Type.Optional(Description), permissions: Permissions },
  { additionalProperties: false },
);
const PatchRoleBody = Type.Object(
  {
    name: Type.Optional(RoleName),
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    permissions: Type.Optional(Permissions),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const roleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new RolesService();

  app.get(
    '/roles/',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'roles.list',
        summary: 'List roles',
        tags,
        security,
        response: {
          200: Type.Object({ items: Type.Array(RoleSchema) }),
          ...problemResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => ({ items: await service.list(accountDb(request.tenant.db)) }),
  );

  app.get(
    '/roles/permissions',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'roles.permissions',
        summary: 'List every permission',
        tags,
        security,
        response: {
          200: Type.Object({ items: Type.Array(Type.Object({ name: Type.String(), title: Type.String() })) }),
          ...problemResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => ({ items: await service.permissions(accountDb(request.tenant.db)) }),
  );

  app.get(
    '/roles/:uuid',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'roles.get',
        summary: 'Get a role',
        tags,
        security,
        params: UuidParams,
        response: { 200: RoleSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => service.get(accountDb(request.tenant.db), request.params.uuid),
  );

  app.post(
    '/roles/',
    {
      config: { permission: 'ROLE_MANAGE' },
      schema: {
        operationId: 'roles.create',
        summary: 'Create a role',
        tags,
        security,
        body: CreateRoleBody,
        response: { 201: RoleSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await service.create(accountDb(request.tenant.db), request.permissions, request.body)),
  );

  app.patch(
    '/roles/:uuid',
    {
      config: { permission: 'ROLE_MANAGE' },
      schema: {
        operationId: 'roles.update',
        summary: 'Update a role',
        tags,
        security,
        params: UuidParams,
        body: PatchRoleBody,
        response: { 200: RoleSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request) =>
      service.update(accountDb(request.tenant.db), request.permissions, request.params.uuid, request.body),
  );

  app.delete(
    '/roles/:uuid',
    {
      config: { permission: 'ROLE_MANAGE' },
      schema: {
        operationId: 'roles.delete',
        summary: 'Delete a role',
        tags,
        security,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.delete(accountDb(request.tenant.db), request.params.uuid);
      return reply.code(204).send(null);
    },
  );
};
