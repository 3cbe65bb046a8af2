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

interface DocumentedResponse {
  content?: Record<string, { schema?: { $ref?: string } }>;
}
interface DocumentedOperation {
  summary?: string;
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: { default?: unknown } }>;
  responses?: Record<string, DocumentedResponse>;
}

describe('OpenAPI document usable by generated clients (issue 14)', () => {
  it('every parameter with a default is optional; every operation has a summary and documented errors', async () => {
    const app = await testApp();
    const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const problems: string[] = [];
    let operations = 0;
    for (const [path, methods] of Object.entries<Record<string, DocumentedOperation>>(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        operations++;
        const where = `${method.toUpperCase()} ${path}`;
        if (!operation.summary?.trim()) problems.push(`${where}: no summary`);
        for (const parameter of operation.parameters ?? []) {
          if (parameter.schema?.default !== undefined && parameter.required === true)
            problems.push(
              `${where}: ${parameter.in} parameter ${parameter.name} has a default but is required`,
            );
        }
        const errors = Object.entries(operation.responses ?? {}).filter(([status]) =>
          /^[45]\d\d$/.test(status),
        );
        if (errors.length === 0) problems.push(`${where}: no documented error answer`);
        for (const [status, response] of errors) {
          const media = Object.values(response.content ?? {});
          if (media.length === 0 || media.some((m) => m.schema?.$ref !== '#/components/schemas/Problem'))
            problems.push(`${where}: ${status} does not reference the shared problem schema`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(operations).toBeGreaterThanOrEqual(73);
    // The usual paginated list: page, size, sort, order all optional.
    const list = document.paths['/tasks/'].get as DocumentedOperation;
    const byName = Object.fromEntries((list.parameters ?? []).map((p) => [p.name, p]));
    for (const name of ['page', 'size', 'sort', 'order']) expect(byName[name]?.required, name).not.toBe(true);
  });
});
