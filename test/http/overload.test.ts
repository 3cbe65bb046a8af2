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
      pressure: { maxEventLoopDelay: 200, sampleInterval: 100, retryAfter: 3 },
    });
    await app.ready();
    try {
      expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);

      // Stall the loop past the limit, again on every try: the pressure lasts until a sample sees it,
      // however late a busy machine runs the sampler (one stall alone left a window of one sample).
      await sleep(150);
      let shed: Awaited<ReturnType<typeof app.inject>> | undefined;
      let alive: Awaited<ReturnType<typeof app.inject>> | undefined;
      for (let i = 0; i < 30 && shed?.statusCode !== 503; i++) {
        blockEventLoop(600);
        // One turn of the timers: the sampler, overdue after the stall, records the delay.
        await sleep(5);
        // Asked together, so both meet the same pressure state.
        [shed, alive] = await Promise.all([
          app.inject({ method: 'GET', url: '/' }),
          app.inject({ method: 'GET', url: '/health' }),
        ]);
      }
      expect(shed?.statusCode).toBe(503);
      expect(shed?.headers['retry-after']).toBe('3');
      expect(shed?.headers['content-type']).toContain('application/problem+json');
      expect(shed?.json()).toMatchObject({ status: 503, title: 'Service unavailable' });
      expect(shed?.json().detail).toContain('eventLoopDelay');
      expect(alive?.statusCode).toBe(200);

      // Once the loop is quiet again, requests are served.
      let recovered = 0;
      for (let i = 0; i < 100 && recovered !== 200; i++) {
        await sleep(50);
        recovered = (await app.inject({ method: 'GET', url: '/' })).statusCode;
      }
      expect(recovered).toBe(200);
    } finally {
      await app.close();
    }
  });
});
