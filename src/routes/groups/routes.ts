/** /groups (SPEC 4): reading needs USER_VIEW, changing GROUP_MANAGE. Members are a replace-set of user uuids. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { accountDb } from '../../auth/tables.ts';
import { ifMatchOf } from '../../http/etag.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, PageQuery, Uuid, UuidParams } from '../auth/schemas.ts';
import { GROUP_SORTS } from './groups-repository.ts';
import { GroupsService } from './groups-service.ts';

const tags = ['groups'];
const security = [{ bearer: [], tenant: [] }];

const GroupSummarySchema = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  description: Type.String(),
  member_count: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  version: Type.Integer({ description: 'Row version; the ETag is "v<version>"' }),
});
const GroupSchema = Type.Intersect([
  GroupSummarySchema,
  Type.Object({
    members: Type.Array(
      Type.Object({
        uuid: Type.String(),
        email: Type.String(),
        first_name: Type.String(),
        last_name: Type.String(),
      }),
    ),
  }),
]);

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Description = Type.String({ maxLength: 1000 });
const Members = Type.Array(Uuid, { uniqueItems: true, maxItems: 1000 });

const ListQuery = Type.Object(
  {
    ...PageQuery,
    sort: Type.Union(
      GROUP_SORTS.map((name) => Type.Literal(name)),
      { default: 'name' },
    ),
  },
  { additionalProperties: false },
);
const CreateBody = Type.Object(
  { name: Name, description: Type.Optional(Description), member_uuids: Type.Optional(Members) },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    member_uuids: Type.Optional(Members),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const groupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new GroupsService();

  app.get(
    '/groups/',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'groups.list',
        summary: 'List groups',
        tags,
        security,
        querystring: ListQuery,
        response: { 200: PageOf(GroupSummarySchema), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => service.list(accountDb(request.tenant.db), request.query),
  );

  app.get(
    '/groups/:uuid',
    {
      config: { permission: 'USER_VIEW' },
      schema: {
        operationId: 'groups.get',
        summary: 'Get a group',
        tags,
        security,
        params: UuidParams,
        response: { 200: GroupSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => service.get(accountDb(request.tenant.db), request.params.uuid),
  );

  app.post(
    '/groups/',
    {
      config: { permission: 'GROUP_MANAGE' },
      schema: {
        operationId: 'groups.create',
        summary: 'Create a group',
        tags,
        security,
        body: CreateBody,
        response: { 201: GroupSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await service.create(accountDb(request.tenant.db), request.body)),
  );

  app.patch(
    '/groups/:uuid',
    {
      config: { permission: 'GROUP_MANAGE' },
      schema: {
        operationId: 'groups.update',
        summary: 'Update a group',
        tags,
        security,
        params: UuidParams,
        body: PatchBody,
        response: { 200: GroupSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request) =>
      service.update(accountDb(request.tenant.db), request.params.uuid, request.body, ifMatchOf(request)),
  );

  app.delete(
    '/groups/:uuid',
    {
      config: { permission: 'GROUP_MANAGE' },
      schema: {
        operationId: 'groups.delete',
        summary: 'Delete a group',
        tags,
        security,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await service.delete(accountDb(request.tenant.db), request.params.uuid, ifMatchOf(request));
      return reply.code(204).send(null);
    },
  );
};
