/**
 * /settings (SPEC 4): the tenant's settings (everyone reads, SETTINGS_MANAGE writes) and each user's own
 * (/settings/me, any signed-in user). PUT bodies accept only whitelisted keys (catalogue.ts) with values
 * of their type, or null to reset one.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type TObject, type TSchema, Type } from 'typebox';
import { AUTHENTICATED } from '../../auth/permissions.ts';
import { accountDb } from '../../auth/tables.ts';
import { contentEtag, ifMatchOf } from '../../http/etag.ts';
import { problemResponses } from '../../http/problem.ts';
import { TENANT_DEFAULTS, TenantSettingsSchema, USER_DEFAULTS, UserSettingsSchema } from './catalogue.ts';
import { SettingsService } from './settings-service.ts';

const tags = ['settings'];
const security = [{ bearer: [], tenant: [] }];

/** PUT body of a catalogue: every key optional, its type or null, nothing else, at least one key. */
function putBody(schema: TObject) {
  const properties: Record<string, TSchema> = {};
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    properties[key] = Type.Optional(Type.Union([property, Type.Null()]));
  }
  return Type.Object(properties, { additionalProperties: false, minProperties: 1 });
}

/** Settings are a map, not a row: their ETag is a hash of the map (If-None-Match → 304 in safe-writes.ts). */
function withEtag<T>(reply: FastifyReply, values: T): T {
  reply.header('etag', contentEtag(values));
  return values;
}

export const settingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tenantSettings = new SettingsService(TenantSettingsSchema, TENANT_DEFAULTS, ['default_tz']);
  const userSettings = new SettingsService(UserSettingsSchema, USER_DEFAULTS);
  const TenantPut = putBody(TenantSettingsSchema);
  const UserPut = putBody(UserSettingsSchema);

  app.get(
    '/settings/',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'settings.tenant.get',
        summary: "Get the company's settings",
        tags,
        security,
        response: { 200: TenantSettingsSchema, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => withEtag(reply, await tenantSettings.read(accountDb(request.tenant.db), null)),
  );

  app.put(
    '/settings/',
    {
      config: { permission: 'SETTINGS_MANAGE' },
      schema: {
        operationId: 'settings.tenant.put',
        summary: "Replace the company's settings",
        tags,
        security,
        body: TenantPut,
        response: { 200: TenantSettingsSchema, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request, reply) =>
      withEtag(
        reply,
        await tenantSettings.write(
          accountDb(request.tenant.db),
          null,
          request.body,
          `${request.tenant.schema}:settings`,
          ifMatchOf(request),
        ),
      ),
  );

  app.get(
    '/settings/me',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'settings.me.get',
        summary: "Get the signed-in user's settings",
        tags,
        security,
        response: { 200: UserSettingsSchema, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) =>
      withEtag(reply, await userSettings.read(accountDb(request.tenant.db), request.user.id)),
  );

  app.put(
    '/settings/me',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'settings.me.put',
        summary: "Replace the signed-in user's settings",
        tags,
        security,
        body: UserPut,
        response: { 200: UserSettingsSchema, ...problemResponses(400, 401, 404, 422) },
      },
    },
    async (request, reply) =>
      withEtag(
        reply,
        await userSettings.write(
          accountDb(request.tenant.db),
          request.user.id,
          request.body,
          `${request.tenant.schema}:settings:${request.user.id}`,
          ifMatchOf(request),
        ),
      ),
  );
};
