/**
 * Control center (SPEC 6): tenant lifecycle and migrations for operators, behind the admin token.
 *
 * One encapsulated plugin: the admin guard is an onRequest hook of this context, so every route below —
 * canonical and the predecessor's aliases (aliases.ts) — is admin-only, and nothing else is affected.
 * Handlers stay thin: rules live in ControlCenter and src/jobs/fleet-jobs.ts, SQL in the registry and
 * runner. Fleet jobs live in the database: any process answers for any job.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import { DEFAULT_HOST, UnknownHostError } from '../../db/hosts.ts';
import { problemResponses, problems } from '../../http/problem.ts';
import {
  cancelFleetJob,
  createFleetJob,
  FleetJobError,
  fleetJobView,
  listFleetJobs,
  resumeFleetJob,
} from '../../jobs/fleet-jobs.ts';
import { createMoveJob, moveJobView } from '../../jobs/move-jobs.ts';
import { detectDrift } from '../../migrations/drift.ts';
import { MoveError } from '../../tenancy/moves/move-engine.ts';
import { MoveConflictError } from '../../tenancy/moves/move-store.ts';
import { listOrphanSchemas } from '../../tenancy/orphans.ts';
import { adminGuard } from './admin-auth.ts';
import { legacyRoutes } from './aliases.ts';
import { ControlCenter, ccProblem, requireTenantId } from './control-center.ts';
import {
  AddDomainBody,
  AnyJobViewSchema,
  CancelledSchema,
  CreatedSchema,
  CreateTenantBody,
  DeleteQuery,
  DomainListSchema,
  DomainParams,
  DomainViewSchema,
  DowngradeBody,
  DriftQuery,
  DriftSchema,
  FleetBody,
  HostListSchema,
  IdParams,
  JobAcceptedSchema,
  JobListQuery,
  JobPageSchema,
  JobParams,
  ListQuery,
  MigrateBody,
  MoveBody,
  RunViewSchema,
  TenantDetailSchema,
  TenantPageSchema,
} from './schemas.ts';

export interface ControlCenterOptions {
  /** Accepted bearer token; undefined = control center disabled (403). See admin-auth.ts. */
  adminToken: string | undefined;
}

const tags = ['control center'];
const security = [{ bearer: [] }];

export const controlCenterRoutes: FastifyPluginAsyncTypebox<ControlCenterOptions> = async (app, options) => {
  app.addHook('onRequest', adminGuard(options.adminToken));
  const cc = new ControlCenter(app.core, app.registryCache, app.tenantDomains);
  const queueDb = app.core.hosts.db(DEFAULT_HOST);

  app.get(
    '/cc/tenants',
    {
      schema: {
        operationId: 'cc.tenants.list',
        summary: 'List tenants with their migration state',
        tags,
        security,
        querystring: ListQuery,
        response: { 200: TenantPageSchema, ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (request) => cc.list(request.query),
  );

  app.get(
    '/cc/hosts',
    {
      schema: {
        operationId: 'cc.hosts.list',
        summary: 'List database hosts: tenants, size, connections, host-level revision, reachability',
        tags,
        security,
        response: { 200: HostListSchema, ...problemResponses(401, 403, 503) },
      },
    },
    async () => cc.hosts(),
  );

  app.post(
    '/cc/tenants',
    {
      schema: {
        operationId: 'cc.tenants.create',
        summary: 'Create a tenant',
        tags,
        security,
        body: CreateTenantBody,
        response: { 201: CreatedSchema, ...problemResponses(400, 401, 403, 409, 422, 503) },
      },
    },
    async (request, reply) => reply.code(201).send(await cc.create(request.body)),
  );

  app.get(
    '/cc/tenants/:id',
    {
      schema: {
        operationId: 'cc.tenants.show',
        summary: 'Get a tenant with its migration history',
        tags,
        security,
        params: IdParams,
        response: { 200: TenantDetailSchema, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => cc.show(request.params.id),
  );

  app.post(
    '/cc/tenants/:id/migrate',
    {
      schema: {
        operationId: 'cc.tenants.migrate',
        summary: 'Migrate one tenant (or dry run)',
        tags,
        security,
        params: IdParams,
        body: MigrateBody,
        response: { 200: RunViewSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request) =>
      cc.migrate(request.params.id, { target: request.body.target, dryRun: request.body.dry_run }),
  );

  app.post(
    '/cc/tenants/:id/move',
    {
      schema: {
        operationId: 'cc.tenants.move',
        summary: 'Move a tenant to another database host (a job; progress at GET /cc/jobs/{id})',
        tags,
        security,
        params: IdParams,
        body: MoveBody,
        response: { 202: JobAcceptedSchema, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const id = requireTenantId(request.params.id);
      const jobId = await createMoveJob(app.core, id, request.body.host, {
        dryRun: request.body.dry_run,
      }).catch(moveProblem);
      return reply.code(202).send({ job_id: jobId });
    },
  );

  app.post(
    '/cc/tenants/:id/downgrade',
    {
      schema: {
        operationId: 'cc.tenants.downgrade',
        summary: 'Downgrade one tenant',
        tags,
        security,
        params: IdParams,
        body: DowngradeBody,
        response: { 200: RunViewSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request) =>
      cc.downgrade(request.params.id, request.body.steps, request.body.confirm === request.params.id),
  );

  app.delete(
    '/cc/tenants/:id',
    {
      schema: {
        operationId: 'cc.tenants.delete',
        summary: 'Delete a tenant (schema, registry and directory rows)',
        tags,
        security,
        params: IdParams,
        querystring: DeleteQuery,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await cc.delete(request.params.id, request.query.confirm);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/cc/tenants/:id/domains',
    {
      schema: {
        operationId: 'cc.tenants.domains.list',
        summary: 'List the domains routed to a tenant',
        tags,
        security,
        params: IdParams,
        response: { 200: DomainListSchema, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => cc.listDomains(request.params.id),
  );

  app.post(
    '/cc/tenants/:id/domains',
    {
      schema: {
        operationId: 'cc.tenants.domains.add',
        summary: 'Route a domain to a tenant',
        tags,
        security,
        params: IdParams,
        body: AddDomainBody,
        // 201 added; 200 when the tenant already had it (adding is idempotent).
        response: {
          200: DomainViewSchema,
          201: DomainViewSchema,
          ...problemResponses(400, 401, 403, 404, 409, 503),
        },
      },
    },
    async (request, reply) => {
      const { domain, created } = await cc.addDomain(request.params.id, request.body.domain);
      return reply.code(created ? 201 : 200).send(domain);
    },
  );

  app.delete(
    '/cc/tenants/:id/domains/:domain',
    {
      schema: {
        operationId: 'cc.tenants.domains.remove',
        summary: 'Stop routing a domain to a tenant',
        tags,
        security,
        params: DomainParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await cc.removeDomain(request.params.id, request.params.domain);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/cc/migrate',
    {
      schema: {
        operationId: 'cc.fleet.migrate',
        summary: 'Migrate every tenant as a job',
        tags,
        security,
        body: FleetBody,
        response: { 202: JobAcceptedSchema, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(202).send(await startFleet(request.body)),
  );

  app.get(
    '/cc/jobs',
    {
      schema: {
        operationId: 'cc.jobs.list',
        summary: 'List fleet migration jobs, newest first',
        tags,
        security,
        querystring: JobListQuery,
        response: { 200: JobPageSchema, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { page, size } = request.query;
      const { items, total } = await listFleetJobs(queueDb, page, size);
      return { items, total, page, size, pages: Math.ceil(total / size) };
    },
  );

  app.get(
    '/cc/jobs/:id',
    {
      schema: {
        operationId: 'cc.jobs.show',
        summary: "A job's progress and results",
        tags,
        security,
        params: JobParams,
        response: { 200: AnyJobViewSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const job =
        (await fleetJobView(queueDb, request.params.id)) ?? (await moveJobView(queueDb, request.params.id));
      if (!job) throw problems.notFound('job', request.params.id);
      return job;
    },
  );

  app.post(
    '/cc/jobs/:id/cancel',
    {
      schema: {
        operationId: 'cc.jobs.cancel',
        summary: 'Cancel a fleet migration job between tenants',
        tags,
        security,
        params: JobParams,
        response: { 202: CancelledSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const status = await cancelFleetJob(queueDb, request.params.id).catch(jobProblem);
      return reply.code(202).send({ job_id: request.params.id, status });
    },
  );

  app.post(
    '/cc/jobs/:id/resume',
    {
      schema: {
        operationId: 'cc.jobs.resume',
        summary: 'Resume a halted fleet migration job',
        tags,
        security,
        params: JobParams,
        response: { 202: JobAcceptedSchema, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await resumeFleetJob(queueDb, request.params.id).catch(jobProblem);
      return reply.code(202).send({ job_id: request.params.id });
    },
  );

  app.get(
    '/cc/drift',
    {
      schema: {
        operationId: 'cc.drift',
        summary: 'Catalog differences of tenants from a reference schema',
        tags,
        security,
        querystring: DriftQuery,
        response: { 200: DriftSchema, ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const { host } = request.query;
      if (host !== undefined && !app.core.hosts.has(host)) throw ccProblem(new UnknownHostError(host));
      const report = await detectDrift(app.core.hosts, app.core.registry, app.core.tenantRunner, { host });
      return { ...report, orphans: await listOrphanSchemas(app.core.hosts, app.core.registry, { host }) };
    },
  );

  /** Validates everything a job could trip on before answering 202, so bad input is a 400 now. */
  async function startFleet(body: Static<typeof FleetBody>): Promise<{ job_id: string }> {
    for (const tenantId of [...(body.tenants ?? []), ...(Array.isArray(body.canary) ? body.canary : [])])
      requireTenantId(tenantId);
    try {
      app.core.tenantRunner.set.resolve(body.target ?? 'head');
    } catch (error) {
      throw ccProblem(error) ?? error;
    }
    return { job_id: await createFleetJob(queueDb, body).catch(jobProblem) };
  }

  await app.register(legacyRoutes, { cc, startFleet });
};

function moveProblem(error: unknown): never {
  if (error instanceof MoveError) {
    if (error.kind === 'not_found') throw problems.notFound('tenant');
    if (error.kind === 'conflict') throw problems.conflict(error.message);
    throw problems.badRequest(error.message);
  }
  if (error instanceof MoveConflictError) throw problems.conflict(error.message);
  throw error;
}

function jobProblem(error: unknown): never {
  if (error instanceof FleetJobError) {
    if (error.kind === 'not_found') throw problems.notFound('job');
    if (error.kind === 'conflict') throw problems.conflict(error.message);
    throw problems.badRequest(error.message);
  }
  throw error;
}
