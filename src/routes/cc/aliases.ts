/**
 * The predecessor's routes, kept for its clients (SPEC 6) as admin-only aliases of the canonical
 * control center routes: same service calls, same answers and status codes.
 *
 *   GET  /create?name=&schema=&host=&db_host=
 *                                      = POST /cc/tenants {name, tenant_id: schema, domains: [host], host: db_host}
 *   GET  /upgrade?schema=              = POST /cc/tenants/{schema}/migrate
 *   GET  /cc/                          = GET  /cc/tenants
 *   POST /cc/                          = POST /cc/migrate
 *   POST /cc/{tenant_id}               = POST /cc/tenants/{tenant_id}/migrate
 *   DELETE /cc/{tenant_id}?confirm=    = DELETE /cc/tenants/{tenant_id}?confirm=
 *
 * `host` is the tenant's DOMAIN, as in the predecessor (issue 21: its earlier version chose the tenant by
 * the request's Host); `db_host` picks the database server (TENANT_DATABASE_URLS key; unknown → 400;
 * default: default). `/create?name=a&schema=a&host=a` creates tenant `a` reachable at Host `a` (or
 * `a.<TENANT_BASE_DOMAIN>` when that is set) on the default server. Static paths win over
 * `/cc/{tenant_id}`, so tenants named `tenants`, `migrate`, `jobs` or `drift` need the canonical routes.
 * The predecessor's clients POST without a body; those routes treat a missing body as `{}`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { problemResponses } from '../../http/problem.ts';
import type { ControlCenter } from './control-center.ts';
import {
  CreatedSchema,
  DeleteQuery,
  FleetBody,
  JobAcceptedSchema,
  LegacyCreateQuery,
  LegacyIdParams,
  LegacyUpgradeQuery,
  ListQuery,
  MigrateBody,
  RunViewSchema,
  TenantPageSchema,
} from './schemas.ts';

export interface LegacyRouteOptions {
  cc: ControlCenter;
  startFleet: (body: Static<typeof FleetBody>) => Promise<{ job_id: string }>;
}

const tags = ['control center (predecessor aliases)'];
const security = [{ bearer: [] }];

/** preValidation: an absent body counts as `{}` (the predecessor's clients send none). */
async function emptyBodyIsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

export const legacyRoutes: FastifyPluginAsyncTypebox<LegacyRouteOptions> = async (
  app,
  { cc, startFleet },
) => {
  app.get(
    '/create',
    {
      schema: {
        operationId: 'cc.legacy.create',
        summary: "Create a tenant (predecessor's route)",
        tags,
        security,
        querystring: LegacyCreateQuery,
        response: { 201: CreatedSchema, ...problemResponses(400, 401, 403, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const { name, schema, host, db_host } = request.query;
      const domains = host === undefined ? [] : [host];
      return reply.code(201).send(await cc.create({ name, tenant_id: schema, domains, host: db_host }));
    },
  );

  app.get(
    '/upgrade',
    {
      schema: {
        operationId: 'cc.legacy.upgrade',
        summary: "Migrate one tenant (predecessor's route)",
        tags,
        security,
        querystring: LegacyUpgradeQuery,
        response: { 200: RunViewSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request) =>
      cc.migrate(request.query.schema, { target: request.query.target, dryRun: request.query.dry_run }),
  );

  app.get(
    '/cc',
    {
      schema: {
        operationId: 'cc.legacy.list',
        summary: "List tenants (predecessor's route)",
        tags,
        security,
        querystring: ListQuery,
        response: { 200: TenantPageSchema, ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (request) => cc.list(request.query),
  );

  app.post(
    '/cc',
    {
      preValidation: emptyBodyIsObject,
      schema: {
        operationId: 'cc.legacy.migrateAll',
        summary: "Migrate every tenant (predecessor's route)",
        tags,
        security,
        body: FleetBody,
        response: { 202: JobAcceptedSchema, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(202).send(await startFleet(request.body)),
  );

  app.post(
    '/cc/:tenant_id',
    {
      preValidation: emptyBodyIsObject,
      schema: {
        operationId: 'cc.legacy.migrate',
        summary: "Migrate one tenant (predecessor's route)",
        tags,
        security,
        params: LegacyIdParams,
        body: MigrateBody,
        response: { 200: RunViewSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request) =>
      cc.migrate(request.params.tenant_id, { target: request.body.target, dryRun: request.body.dry_run }),
  );

  app.delete(
    '/cc/:tenant_id',
    {
      schema: {
        operationId: 'cc.legacy.delete',
        summary: "Delete a tenant (predecessor's route)",
        tags,
        security,
        params: LegacyIdParams,
        querystring: DeleteQuery,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await cc.delete(request.params.tenant_id, request.query.confirm);
      return reply.code(204).send(null);
    },
  );
};
