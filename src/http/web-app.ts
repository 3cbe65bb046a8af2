/**
 * The web app (web/, built by Vite into web/dist) served under /app/ by @fastify/static.
 *
 * - Hashed files under /app/assets/ are cached for a year; index.html is always revalidated, so a new
 *   build reaches people on their next page load.
 * - Client-side routes (/app/tasks, /app/verify-email/<token>, …) are not files: a GET that accepts HTML
 *   and finds no file gets index.html, and the Vue router shows the page. Other misses stay the API's
 *   404 problem+json.
 * - `GET /` from a browser (Accept: text/html) is redirected to /app/; API clients keep the JSON answer.
 *   `/app` is redirected to `/app/`.
 * - Without a build (tests of the API, `npm run dev` before `npm run build`) nothing is registered
 *   beyond a 503 at /app/ that says how to build it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { problems } from './problem.ts';

export const WEB_PREFIX = '/app/';

/** web/dist from src/http (tsx, tests) or from dist/src/http (the build). */
export function defaultWebRoot(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.resolve(here, '../../web/dist'), path.resolve(here, '../../../web/dist')].find((dir) =>
    existsSync(path.join(dir, 'index.html')),
  );
}

const wantsHtml = (request: FastifyRequest) =>
  request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');

export interface WebAppOptions {
  /** The built app (a folder holding index.html); defaults to web/dist. */
  root?: string;
}

export const webApp = fp(
  async (app: FastifyInstance, options: WebAppOptions) => {
    const given = options.root ?? defaultWebRoot();
    const root = given && existsSync(path.join(given, 'index.html')) ? given : undefined;

    app.addHook('onRequest', async (request, reply) => {
      if (request.url === '/' && wantsHtml(request)) return reply.redirect(WEB_PREFIX, 302);
      // Without the slash, the app's relative URLs would resolve against `/`.
      if (request.url === '/app' && request.method === 'GET') return reply.redirect(WEB_PREFIX, 301);
    });

    await app.register(
      async (scope) => {
        if (!root) {
          scope.get('/', { schema: { hide: true } }, async () => {
            throw problems.unavailable('The web app is not built: run `npm run build`', 60);
          });
          return;
        }
        await scope.register(fastifyStatic, {
          root,
          prefix: '/',
          index: 'index.html',
          wildcard: true,
          // Our own Cache-Control below; send's default (max-age=0) would overwrite it.
          cacheControl: false,
          setHeaders(response, filePath) {
            const immutable = filePath.includes(`${path.sep}assets${path.sep}`);
            response.setHeader(
              'cache-control',
              immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
            );
          },
        });
        scope.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
          if (!wantsHtml(request)) throw problems.notFound('Web app file', request.url);
          reply.header('cache-control', 'no-cache');
          return reply.sendFile('index.html');
        });
      },
      { prefix: WEB_PREFIX },
    );
  },
  { name: 'tenantry-web-app', fastify: '5.x' },
);
