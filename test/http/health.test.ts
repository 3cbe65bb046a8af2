import { describe, expect, it } from 'vitest';
import { testApp } from '../helpers/core.ts';

describe('health and basic HTTP behaviour', () => {
  it('GET /health answers without touching the database', async () => {
    const app = await testApp();
    const response = await app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok' });
    expect(response.headers['x-request-id']).toMatch(/[0-9a-f-]{36}/);
  });

  it('GET /health/db reports every host', async () => {
    const app = await testApp();
    const response = await app.inject({ method: 'GET', url: '/health/db' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', hosts: { default: { status: 'ok' } } });
  });

  it('GET /health/db answers 503 problem+json when a host is down', async () => {
    const app = await testApp({ env: { TENANT_DATABASE_URLS: '{"gone":"postgres://u:p@127.0.0.1:1/x"}' } });
    const response = await app.inject({ method: 'GET', url: '/health/db' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toMatchObject({ status: 503, title: 'Service unavailable' });
    expect(response.json().detail).toContain('gone');
  });

  it('GET / echoes name, version and tenant header; trailing slashes are accepted', async () => {
    const app = await testApp();
    const response = await app.inject({ method: 'GET', url: '/', headers: { tenant: 'acme' } });
    expect(response.json()).toMatchObject({ name: 'Tenantry', tenant: 'acme' });
    expect((await app.inject({ method: 'GET', url: '/health/' })).statusCode).toBe(200);
  });

  it('unknown routes are 404 problem+json', async () => {
    const app = await testApp();
    const response = await app.inject({ method: 'GET', url: '/no/such/route?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toEqual({
      type: 'https://tenantry.dev/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'route "GET /no/such/route" not found',
      instance: '/no/such/route?x=1',
    });
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const app = await testApp();
    const json = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    expect(json.json().openapi).toMatch(/^3\./);
    expect(Object.keys(json.json().paths)).toContain('/health/db');
    const page = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(page.statusCode);
  });

  it('CORS answers only configured origins', async () => {
    const app = await testApp({ env: { CORS_ORIGINS: 'https://app.example.com' } });
    const allowed = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://app.example.com' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const other = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
