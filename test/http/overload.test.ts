import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { testCore } from '../helpers/core.ts';

function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Busy-wait: simulates CPU saturation (e.g. a burst of expensive requests).
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('overload protection', () => {
  it('past the limits it answers 503 + Retry-After, keeps /health answering, and recovers', async () => {
    const core = await testCore();
    const app = await buildApp(core, {
      logger: false,
      pressure: { maxEventLoopDelay: 30, sampleInterval: 10, retryAfter: 3 },
    });
    await app.ready();
    try {
      expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);

      // Stall the loop long enough for the next sample to see a huge delay.
      await sleep(15);
      blockEventLoop(400);
      await sleep(12);

      const shed = await app.inject({ method: 'GET', url: '/' });
      expect(shed.statusCode).toBe(503);
      expect(shed.headers['retry-after']).toBe('3');
      expect(shed.headers['content-type']).toContain('application/problem+json');
      expect(shed.json()).toMatchObject({ status: 503, title: 'Service unavailable' });
      expect(shed.json().detail).toContain('eventLoopDelay');

      const alive = await app.inject({ method: 'GET', url: '/health' });
      expect(alive.statusCode).toBe(200);

      // Once the loop is quiet again, requests are served.
      let recovered = 0;
      for (let i = 0; i < 50 && recovered !== 200; i++) {
        await sleep(20);
        recovered = (await app.inject({ method: 'GET', url: '/' })).statusCode;
      }
      expect(recovered).toBe(200);
    } finally {
      await app.close();
    }
  });
});
