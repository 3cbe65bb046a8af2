/**
 * `/webhooks` (issue 19): signed deliveries of the change feed to an integrator's URL. Everything needs
 * WEBHOOK_MANAGE (OWNER and ADMIN). Deliveries run on the job queue (delivery.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { DEFAULT_HOST } from '../../db/hosts.ts';
import { problemResponses } from '../../http/problem.ts';
import { PageOf, UuidParams } from '../auth/schemas.ts';
import { forgetWebhooks, scheduleRedelivery } from './delivery.ts';
import {
  CreatedWebhookBody,
  CreateWebhookBody,
  DeliveryBody,
  DeliveryParams,
  DeliveryQuery,
  PatchWebhookBody,
  WebhookBody,
} from './schemas.ts';
import { webhookDb } from './tables.ts';
import { WebhooksService } from './webhooks-service.ts';

const tags = ['webhooks'];
const config = { permission: 'WEBHOOK_MANAGE' } as const;

export const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // A change of this tenant's webhooks is seen by the next write's dispatch at once (delivery.ts cache).
  app.addHook('onResponse', async (request) => {
    if (request.method !== 'GET') forgetWebhooks(request.tenant.id);
  });

  const serviceOf = (request: FastifyRequest) =>
    new WebhooksService(webhookDb(request.tenant.db), app.core.config.webhookAllowPrivate);

  app.post(
    '/webhooks',
    {
      config,
      schema: {
        operationId: 'webhooks.create',
        summary: 'Subscribe a URL to events (the secret is shown once)',
        tags,
        body: CreateWebhookBody,
        response: { 201: CreatedWebhookBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await serviceOf(request).create(request.body, request.user.id)),
  );

  app.get(
    '/webhooks',
    {
      config,
      schema: {
        operationId: 'webhooks.list',
        summary: 'List webhooks',
        tags,
        querystring: DeliveryQuery,
        response: { 200: PageOf(WebhookBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => serviceOf(request).page(request.query.page, request.query.size),
  );

  app.get(
    '/webhooks/:uuid',
    {
      config,
      schema: {
        operationId: 'webhooks.get',
        summary: 'Get a webhook',
        tags,
        params: UuidParams,
        response: { 200: WebhookBody, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => serviceOf(request).get(request.params.uuid),
  );

  app.patch(
    '/webhooks/:uuid',
    {
      config,
      schema: {
        operationId: 'webhooks.update',
        summary: 'Change the URL or event types, disable or re-enable a webhook',
        tags,
        params: UuidParams,
        body: PatchWebhookBody,
        response: { 200: WebhookBody, ...problemResponses(400, 401, 403, 404, 422, 503) },
      },
    },
    async (request) => serviceOf(request).patch(request.params.uuid, request.body),
  );

  app.delete(
    '/webhooks/:uuid',
    {
      config,
      schema: {
        operationId: 'webhooks.delete',
        summary: 'Delete a webhook and its delivery log',
        tags,
        params: UuidParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await serviceOf(request).remove(request.params.uuid);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/webhooks/:uuid/deliveries',
    {
      config,
      schema: {
        operationId: 'webhooks.deliveries',
        summary: 'Delivery attempts of a webhook, newest first',
        tags,
        params: UuidParams,
        querystring: DeliveryQuery,
        response: { 200: PageOf(DeliveryBody), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) =>
      serviceOf(request).deliveries(request.params.uuid, request.query.page, request.query.size),
  );

  app.post(
    '/webhooks/:uuid/deliveries/:delivery/redeliver',
    {
      config,
      schema: {
        operationId: 'webhooks.redeliver',
        summary: 'Send a logged delivery’s event again (same event id)',
        tags,
        params: DeliveryParams,
        response: {
          202: Type.Object({ queued: Type.Boolean() }),
          ...problemResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { uuid, delivery } = request.params;
      await serviceOf(request).assertDelivery(uuid, delivery);
      await scheduleRedelivery(app.core.hosts.db(DEFAULT_HOST), request.tenant.id, uuid, delivery);
      return reply.code(202).send({ queued: true });
    },
  );
};
