import { describe, expect, it } from 'vitest';
import { testApp } from '../helpers/core.ts';

describe('OpenAPI document', () => {
  it('names every operation and documents the tenant and bearer requirements of tenant routes', async () => {
    const app = await testApp();
    const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const tenantRoutes = new Set(
      app.tenantRoutes.map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
    );
    const operationIds: string[] = [];
    for (const [path, operations] of Object.entries<
      Record<string, { operationId?: string; security?: unknown }>
    >(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.operationId, `${method} ${path}`).toBeTruthy();
        operationIds.push(operation.operationId!);
        if (tenantRoutes.has(`${method} ${path}`)) {
          expect(operation.security, `${method} ${path}`).toEqual(
            expect.arrayContaining([expect.objectContaining({ tenant: [] })]),
          );
        }
      }
    }
    expect(new Set(operationIds).size).toBe(operationIds.length);
    expect(operationIds).toEqual(
      expect.arrayContaining(['tasks.list', 'users.list', 'cc.tenants.list', 'health.database']),
    );
  });
});
