/**
 * buildApp(core): the one function that builds the HTTP application, used by the server, the tests and
 * the benchmarks. It registers cross-cutting plugins first (errors, CORS, docs, overload protection),
 * then one encapsulated plugin per route area.
 */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { fastifyTrustProxy } from './config.ts';
import type { Core } from './core.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { openapiTransform } from './http/openapi.ts';
import { type OverloadLimits, overloadProtection } from './http/overload.ts';
import { ProblemSchema, problems } from './http/problem.ts';
import { clientErrorHandler, parseQueryString, requestIdOf, requestInput } from './http/request-input.ts';
import { validatorFactory } from './http/validation.ts';
import { webApp } from './http/web-app.ts';
import { jobsPlugin } from './jobs/jobs-plugin.ts';
import { metricsPlugin } from './metrics/metrics.ts';
import { accountAreas } from './routes/auth/areas.ts';
import { resolveAdminToken } from './routes/cc/admin-auth.ts';
import { controlCenterRoutes } from './routes/cc/routes.ts';
import { healthRoutes } from './routes/health/routes.ts';
import { todoAreas } from './routes/tasks/areas.ts';
import { tenancyPlugin } from './tenancy/tenant-plugin.ts';
import { VERSION } from './version.ts';

export interface AppOptions {
  /** Override the logger (tests pass false). */
  logger?: boolean | object;
  /** Body size limit in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Overload limits (src/http/overload.ts); tests lower them to drive the server past them. */
  pressure?: OverloadLimits;
  /**
   * Milliseconds a client has to send one whole request, headers and body (default 30 s); past it Node
   * answers 408 and closes the connection. Only receiving the request is bounded, not the handler.
   */
  requestTimeout?: number;
  /** Folder of the built web app served under /app/ (default web/dist; src/http/web-app.ts). */
  webRoot?: string;
}

/**
 * Why a request timeout (issue 9, test/security/limits.test.ts): Fastify's default is none, so a client
 * that sends headers and then trickles (or never sends) the body held its socket and parser forever; a
 * few thousand such connections starve the server without any load a rate limit or under-pressure sees.
 */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export type App = FastifyInstance & { core: Core };

function loggerFor(core: Core, override: AppOptions['logger']) {
  if (override !== undefined) return override;
  const { logLevel, nodeEnv } = core.config;
  if (nodeEnv === 'development' && process.stdout.isTTY) {
    return {
      level: logLevel,
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    };
  }
  return { level: logLevel };
}

export async function buildApp(core: Core, options: AppOptions = {}): Promise<App> {
  const requestTimeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: loggerFor(core, options.logger),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestTimeout,
    // Node enforces the deadline on a timer (default every 30 s, as long as the timeout itself); check
    // often enough that a request is cut off close to its deadline. headersTimeout may not exceed it.
    http: {
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
      headersTimeout: Math.min(60_000, requestTimeout),
    },
    // TRUST_PROXY (src/config.ts): whose X-Forwarded-For names the client the rate limits count.
    trustProxy: fastifyTrustProxy(core.config.trustProxy),
    // X-Request-Id only when it is a short safe token, otherwise a generated one (request-input.ts).
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Refusals of Node's HTTP parser (431, 408, 400) as problem+json (request-input.ts).
    clientErrorHandler,
    // Strict UTF-8 query strings (request-input.ts).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200, querystringParser: parseQueryString },
    schemaController: { compilersFactory: { buildValidator: validatorFactory() } },
    // Stop keep-alive sockets promptly on close so SIGTERM shutdown does not wait for idle clients.
    forceCloseConnections: 'idle',
    // Refused by the onRequest hook below instead, with Retry-After and problem+json.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('core', core);
  app.addSchema(ProblemSchema);
  registerErrorHandling(app);
  // Strict UTF-8 JSON, empty JSON bodies, headers that must come once (src/http/request-input.ts).
  await app.register(requestInput);
  // Graceful shutdown (issue 9, test/faults/sigterm-drain.test.ts): once close() has begun, the answers
  // to requests still in flight carry `Connection: close`, so their keep-alive sockets end with the
  // answer. Without it those sockets stayed open until the client's keep-alive ran out (72 s), close()
  // never finished, and src/server.ts gave up after 20 s with exit code 1.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // A request that arrives on a kept-alive connection after close() began is refused in the API's own
  // shape, 503 problem+json with Retry-After (Fastify's built-in refusal, `return503OnClosing`, is a
  // bare JSON 503 without Retry-After; seen in test/faults/sigterm-drain.test.ts).
  app.addHook('onRequest', async () => {
    if (closing) throw problems.unavailable('The server is shutting down; retry shortly', 1);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });

  await app.register(cors, {
    origin: core.config.corsOrigins.includes('*') ? true : core.config.corsOrigins,
    credentials: !core.config.corsOrigins.includes('*'),
    exposedHeaders: ['x-request-id', 'retry-after', 'content-disposition'],
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tenantry API',
        version: VERSION,
        description: 'Multi-tenant TODO lists: one PostgreSQL schema per tenant.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          tenant: { type: 'apiKey', in: 'header', name: 'tenant' },
        },
      },
    },
    // Parameters with defaults are optional in the document (src/http/openapi.ts).
    transform: openapiTransform,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // Before every route area: its onResponse hook must see all of them (src/metrics/metrics.ts).
  await app.register(metricsPlugin, { core, token: core.config.metricsToken });

  await app.register(overloadProtection, options.pressure ?? {});
  await app.register(healthRoutes);
  // Registry cache + LISTEN, on-demand upgrades, `request.tenant`. Tenant route areas opt in with
  // `withTenant(routes)` / `tenantScope` (src/tenancy/tenant-plugin.ts).
  await app.register(tenancyPlugin);
  await app.register(jobsPlugin);
  // Token resolved once per app: generated and logged once when unset outside production (admin-auth.ts).
  await app.register(controlCenterRoutes, { adminToken: resolveAdminToken(core.config, app.log) });
  // Accounts: `app.accounts`, the auth guard (`withAuth`), /auth, /users, /roles, /groups, /settings.
  // Tenant areas registered after this line reuse `withAuth` (src/auth/auth-plugin.ts).
  await app.register(accountAreas);
  // TODO domain: /lists, /tasks, /comments, /tags (src/routes/tasks/areas.ts).
  await app.register(todoAreas);
  // The web app under /app/ (src/http/web-app.ts): static files, client-side routes, `/` → /app/.
  await app.register(webApp, { root: options.webRoot });
  return app as unknown as App;
}

declare module 'fastify' {
  interface FastifyInstance {
    core: Core;
  }
}
