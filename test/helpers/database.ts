/**
 * One fresh database per test file, cloned from the migrated template and dropped after the file, so
 * files run in parallel and leave nothing behind.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { onFileEnd } from './cleanup.ts';

export interface TestDatabase {
  name: string;
  url: string;
}

function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Creates a database on the main (or second, `host: 2`) test server; dropped after the file. */
export async function createTestDatabase(
  options: { host?: 1 | 2; empty?: boolean } = {},
): Promise<TestDatabase> {
  const adminUrl = options.host === 2 ? inject('pgAdminUrl2') : inject('pgAdminUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const template = options.empty ? 'template0' : inject('templateDatabase');
  await adminQuery(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${template}`);
  onFileEnd(() => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  return { name, url: withDatabase(adminUrl, name) };
}
