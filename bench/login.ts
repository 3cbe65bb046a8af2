/**
 * POST /auth/login throughput. The login rate limits (60 per IP and 10 per e-mail per 5 minutes, in each
 * process: docs/accounts.md) would answer nearly every benchmark request with 429, and ab sends everything
 * from 127.0.0.1. So this row runs the production build's app in this process (dist/src/app.js, NODE_ENV=
 * production: real argon2id cost) with only those two budgets raised, and measures it with ab as usual.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ab, abCommand } from './ab.ts';
import { type Measurement, summarise } from './harness.ts';
import { call } from './seed.ts';
import { ROOT } from './server-process.ts';

const dist = (file: string) => pathToFileURL(path.join(ROOT, 'dist', file)).href;

export interface LoginBenchOptions {
  databaseUrl: string;
  dataDir: string;
  adminToken: string;
  email: string;
  password: string;
  runs: number;
  requests: number;
}

export async function measureLogin(
  options: LoginBenchOptions,
): Promise<{ row: Measurement; notes: string[] }> {
  const configModule: typeof import('../src/config.ts') = await import(dist('src/config.js'));
  const coreModule: typeof import('../src/core.ts') = await import(dist('src/core.js'));
  const appModule: typeof import('../src/app.ts') = await import(dist('src/app.js'));
  const config = configModule.loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: options.databaseUrl,
    DATA_DIR: options.dataDir,
    CC_ADMIN_TOKEN: options.adminToken,
    MIGRATE_TENANTS_ON_START: 'off',
  });
  const core = await coreModule.openCore(config, { defaultDatabaseUrl: options.databaseUrl });
  const app = await appModule.buildApp(core, { logger: false });
  const unlimited = { limit: Number.MAX_SAFE_INTEGER, windowSeconds: 300 };
  app.accounts.limits.loginPerIp = unlimited;
  app.accounts.limits.loginPerEmail = unlimited;
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const body = { email: options.email, password: options.password };
    const sample = await call(base, 'POST', '/auth/login', { body });
    if (typeof (sample.json as { auth_token?: unknown }).auth_token !== 'string')
      throw new Error(`POST /auth/login answered without a token: ${sample.text}`);
    const bodyFile = path.join(options.dataDir, 'login.json');
    await writeFile(bodyFile, JSON.stringify(body));
    const abOptions = {
      url: `${base}/auth/login`,
      requests: options.requests,
      concurrency: 16,
      postFile: bodyFile,
      variableLength: true,
    };
    await ab({ ...abOptions, requests: Math.ceil(options.requests / 3) });
    const results = [];
    for (let run = 0; run < options.runs; run++) results.push(await ab(abOptions));
    const failed = results.reduce((sum, r) => sum + r.failed + r.non2xx, 0);
    const p99 = summarise(
      'p99',
      'ms',
      results.map((r) => r.p99),
    );
    console.log(`  POST /auth/login: ${results.map((r) => Math.round(r.rps)).join(', ')} req/s`);
    return {
      row: summarise(
        'POST /auth/login (argon2id verify + new session), one process',
        'req/s',
        results.map((r) => r.rps),
        undefined,
        `p99 ${p99.median} ms (${p99.min}–${p99.max}); ${failed} failed or non-2xx`,
      ),
      notes: [
        `POST /auth/login: \`${abCommand({ ...abOptions, url: 'http://127.0.0.1:PORT/auth/login' })}\` against the production build's app run in the bench process with the login rate limits raised (everything else as in production); argon2id at its production cost bounds it, spread over libuv's 4 threads.`,
      ],
    };
  } finally {
    await app.close();
    await core.close();
  }
}
