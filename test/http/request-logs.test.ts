/**
 * Logs (issue 20): every log line of a tenant request carries the request id and the tenant id, so one
 * customer's trouble can be found in production's JSON logs.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';
import { randomTenantId } from '../tenancy/helpers.ts';

describe('request logs', () => {
  it('name the request id and the tenant on every line of a tenant request', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const core = await testCore();
    const app = await buildApp(core, { logger: { level: 'info', stream } });
    onFileEnd(() => app.close());
    const tenant = randomTenantId('logs');
    await core.tenants.create({ name: 'Logs', tenantId: tenant });

    const response = await app.inject({
      method: 'GET',
      url: '/tasks/',
      headers: { tenant, 'x-request-id': 'trace-42' },
    });
    expect(response.statusCode).toBe(401);
    const ofRequest = lines.filter((line) => line.reqId === 'trace-42');
    expect(ofRequest.map((line) => line.msg)).toContain('request completed');
    const completed = ofRequest.find((line) => line.msg === 'request completed')!;
    expect(completed).toMatchObject({ reqId: 'trace-42', tenant });
  });
});
