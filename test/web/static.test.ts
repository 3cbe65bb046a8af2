/**
 * The server's side of the web app (src/http/web-app.ts): files under /app/, client-side routes falling
 * back to index.html, caching, `GET /` redirecting browsers only, and a clear 503 without a build.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

async function appWith(webRoot: string): Promise<App> {
  const core = await testCore();
  const app = await buildApp(core, { logger: false, webRoot });
  onFileEnd(() => app.close());
  await app.ready();
  return app;
}

describe('the web app under /app/', () => {
  let app: App;
  beforeAll(async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'tenantry-web-'));
    onFileEnd(() => rm(root, { recursive: true, force: true }));
    await mkdir(path.join(root, 'assets'));
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>Tenantry</title>');
    await writeFile(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    app = await appWith(root);
  });

  it('serves index.html at /app/, revalidated on every load; /app redirects there', async () => {
    const response = await app.inject({ url: '/app/', headers: HTML });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('<title>Tenantry</title>');
    expect(response.headers['cache-control']).toBe('no-cache');
    const bare = await app.inject({ url: '/app', headers: HTML });
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe('/app/');
  });

  it('caches hashed assets for a year', async () => {
    const response = await app.inject({ url: '/app/assets/index-abc123.js' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/javascript/);
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('answers client-side routes with index.html when a browser asks', async () => {
    for (const url of ['/app/tasks', '/app/verify-email/acme.abc-def_123', '/app/tasks/3f2a?status=done']) {
      const response = await app.inject({ url, headers: HTML });
      expect(response.statusCode, url).toBe(200);
      expect(response.body).toContain('<title>Tenantry</title>');
    }
  });

  it('keeps a missing file a 404 problem for scripts and API clients', async () => {
    const response = await app.inject({ url: '/app/assets/gone-000.js', headers: { accept: '*/*' } });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 404, title: 'Not found' });
    const post = await app.inject({ method: 'POST', url: '/app/tasks', headers: HTML, payload: {} });
    expect(post.statusCode).toBe(404);
  });

  it('does not serve files outside its folder', async () => {
    const response = await app.inject({ url: '/app/..%2f..%2fpackage.json', headers: HTML });
    expect(response.body).not.toContain('"name": "tenantry"');
  });

  it('redirects a browser at / to /app/ while API clients keep the JSON answer', async () => {
    const browser = await app.inject({ url: '/', headers: HTML });
    expect(browser.statusCode).toBe(302);
    expect(browser.headers.location).toBe('/app/');
    const client = await app.inject({ url: '/', headers: { accept: 'application/json' } });
    expect(client.statusCode).toBe(200);
    expect(client.json()).toMatchObject({ name: 'Tenantry', tenant: null });
    const curl = await app.inject({ url: '/', headers: { accept: '*/*', tenant: 'acme' } });
    expect(curl.json()).toMatchObject({ tenant: 'acme' });
  });

  it('leaves the API routes and the OpenAPI document alone', async () => {
    const health = await app.inject({ url: '/health', headers: HTML });
    expect(health.statusCode).toBe(200);
    const doc = (await app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(doc.paths).filter((route: string) => route.startsWith('/app'))).toEqual([]);
  });
});

describe('without a build', () => {
  it('says how to build the web app instead of a bare 404', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'tenantry-web-empty-'));
    onFileEnd(() => rm(empty, { recursive: true, force: true }));
    const app = await appWith(empty);
    const response = await app.inject({ url: '/app/', headers: HTML });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.json().detail).toMatch(/npm run build/);
  });
});
