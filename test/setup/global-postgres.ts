/**
 * Vitest global setup: ONE embedded PostgreSQL for the whole run (plus a second one to play a second
 * database host), under the OS temp folder so the `postgres` OS user can reach it wherever the checkout
 * lives. A template database with the public schema migrated is made once; every test file clones its
 * own database from it (test/helpers/database.ts). `TEST_DATABASE_URL` / `TEST_DATABASE_URL_2` use
 * existing servers instead.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config.ts';
import { openCore } from '../../src/core.ts';
import { ServerGroup } from './server-group.ts';

export const TEMPLATE_DATABASE = 'tenantry_test_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (database `postgres`) of the main test server. */
    pgAdminUrl: string;
    /** Admin URL of the second server (a second database host). */
    pgAdminUrl2: string;
    templateDatabase: string;
    /** Unique per run, for rendezvous rows in a server that may outlive the run (TEST_DATABASE_URL). */
    runId: string;
  }
}

async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${TEMPLATE_DATABASE}`;
  const core = await openCore(loadConfig({ NODE_ENV: 'test' }), {
    defaultDatabaseUrl: url.toString(),
    poolSize: 1,
  });
  try {
    await core.migratePublic();
  } finally {
    await core.close();
  }
}

export default async function setup(project: TestProject) {
  const group = new ServerGroup();
  // Durability is irrelevant for throw-away test clusters; this makes CREATE DATABASE and DDL fast.
  const settings = {
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '300',
  };
  const start = async (label: string) => (await group.start(label, settings)).url;

  try {
    // allSettled, not all: when one server fails to start, the other must be stopped too.
    const started = await Promise.allSettled([
      process.env.TEST_DATABASE_URL ?? start('a'),
      process.env.TEST_DATABASE_URL_2 ?? start('b'),
    ]);
    const [first, second] = started.map((outcome) => {
      if (outcome.status === 'rejected') throw outcome.reason;
      return outcome.value;
    }) as [string, string];
    await Promise.all([prepareTemplate(first), prepareTemplate(second)]);

    project.provide('pgAdminUrl', first);
    project.provide('pgAdminUrl2', second);
  } catch (error) {
    await group.stop();
    throw error;
  }
  project.provide('templateDatabase', TEMPLATE_DATABASE);
  project.provide('runId', randomBytes(8).toString('hex'));

  return () => group.stop();
}
