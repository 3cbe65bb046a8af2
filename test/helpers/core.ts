/**
 * Builds a Core (and optionally the HTTP app) against a per-file test database, closed automatically.
 */
import { afterAll } from 'vitest';
import { type App, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { type Core, type CoreOptions, openCore } from '../../src/core.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestCoreOptions extends Partial<CoreOptions> {
  env?: Record<string, string>;
  database?: TestDatabase;
}

export async function testCore(options: TestCoreOptions = {}): Promise<Core & { database: TestDatabase }> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({ NODE_ENV: 'test', CC_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...options.env });
  const core = await openCore(config, {
    ...options,
    defaultDatabaseUrl: options.defaultDatabaseUrl ?? database.url,
  });
  afterAll(() => core.close());
  return Object.assign(core, { database });
}

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export async function testApp(options: TestCoreOptions = {}): Promise<App> {
  const core = await testCore(options);
  const app = await buildApp(core, { logger: false });
  afterAll(() => app.close());
  await app.ready();
  return app;
}
