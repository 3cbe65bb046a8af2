/**
 * Builds a Core (and optionally the HTTP app) against a per-file test database, closed automatically.
 */
import { type App, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { type Core, type CoreOptions, openCore } from '../../src/core.ts';
import type { OverloadLimits } from '../../src/http/overload.ts';
import { onFileEnd } from './cleanup.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestCoreOptions extends Partial<CoreOptions> {
  env?: Record<string, string>;
  database?: TestDatabase;
  /** Adds host `eu2` on the second test server (its own per-file database) via TENANT_DATABASE_URLS. */
  secondHost?: TestDatabase | boolean;
}

export async function testCore(options: TestCoreOptions = {}): Promise<Core & { database: TestDatabase }> {
  const database = options.database ?? (await createTestDatabase());
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    CC_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    // The pool's wait and queue bounds are for production load (src/db/hosts.ts); on a busy test machine
    // they would turn slow checkouts into 503s. test/http/pool-bounds.test.ts sets its own.
    DATABASE_POOL_WAIT_MS: '5000',
    DATABASE_POOL_QUEUE: '10000',
    // No warm schemas built behind the tests' backs; test/tenancy/schema-pool.test.ts turns it on.
    SCHEMA_POOL_SIZE: '0',
    ...options.env,
  };
  if (options.secondHost) {
    const second = options.secondHost === true ? await createTestDatabase({ host: 2 }) : options.secondHost;
    env.TENANT_DATABASE_URLS = JSON.stringify({ [SECOND_HOST]: second.url });
  }
  const config = loadConfig(env);
  const core = await openCore(config, {
    ...options,
    defaultDatabaseUrl: options.defaultDatabaseUrl ?? database.url,
  });
  onFileEnd(() => core.close());
  return Object.assign(core, { database });
}

/** 0 turns a check off (src/http/overload.ts). */
const NO_SHEDDING: OverloadLimits = { maxEventLoopDelay: 0, maxEventLoopUtilization: 0 };

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
/** Name of the second database host in tests (`secondHost`). */
export const SECOND_HOST = 'eu2';
/** Headers carrying the control center token. */
export const ADMIN = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

export interface TestAppOptions extends TestCoreOptions {
  /** Runs before `ready()`: register test-only plugins/routes (e.g. a tenant route). */
  setup?: (app: App) => Promise<void> | void;
  /** Reuse a Core (two apps on one database share nothing else). */
  core?: Core & { database: TestDatabase };
  /** Overload limits for the app (src/http/overload.ts); 0 turns a check off. */
  pressure?: OverloadLimits;
  /** A logger for the app (default none); tests of log lines pass a pino config with a stream. */
  logger?: boolean | object;
}

export async function testApp(options: TestAppOptions = {}): Promise<App> {
  const core = options.core ?? (await testCore(options));
  // Overload shedding is off unless a test asks for it: a busy CI machine stalls test workers' event
  // loops for a second at times, which would turn unrelated assertions into 503s
  // (test/http/overload.test.ts proves the shedding itself).
  const app = await buildApp(core, {
    logger: options.logger ?? false,
    pressure: options.pressure ?? NO_SHEDDING,
  });
  onFileEnd(() => app.close());
  await options.setup?.(app);
  await app.ready();
  return app;
}
