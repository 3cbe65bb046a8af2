/**
 * Connections to the server being backed up or restored: pg clients with messages an operator can act on
 * (unreachable server, wrong password, missing database), and the URL juggling the restore needs
 * (the same server, another database).
 */
import pg from 'pg';
import { BackupError } from './errors.ts';

/** The database `url` points at. */
export function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  return name === '' ? 'postgres' : name;
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** `user@host:port` for messages (never the password). */
export function describeServer(url: string): string {
  const parsed = new URL(url);
  return `${decodeURIComponent(parsed.username) || '(default user)'}@${parsed.hostname}:${parsed.port || '5432'}`;
}

/**
 * The database (not the maintenance one) a client connects to for CREATE/ALTER/DROP DATABASE: `postgres`,
 * or `template1` when `postgres` itself is the one being replaced.
 */
export function maintenanceDatabase(avoid: string): string {
  return avoid === 'postgres' ? 'template1' : 'postgres';
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    application_name: 'tenantry-backup',
  });
  // A dropped connection (e.g. terminated by a restore elsewhere) must not crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(url, error);
  }
  return client;
}

/** Runs `use` with a client on `url`, always closing it. */
export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function connectionError(url: string, error: unknown): BackupError {
  const where = describeServer(url);
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case '28P01': // invalid_password
    case '28000': // invalid_authorization_specification
      return new BackupError(`authentication failed for ${where}: check the [postgresql] user and password`);
    case '3D000': // invalid_catalog_name
      return new BackupError(`database "${databaseOf(url)}" does not exist on ${where}`);
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return new BackupError(
        `cannot reach PostgreSQL at ${where} (${code}): check the [postgresql] host and port, and that the server runs`,
      );
    default:
      return new BackupError(`cannot connect to PostgreSQL at ${where}: ${message}`);
  }
}

export const quoteIdent = (name: string): string => pg.escapeIdentifier(name);

/** The server's major version, e.g. 15, from server_version_num (150018). */
export async function serverMajorVersion(client: pg.Client): Promise<{ major: number; version: string }> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  );
  return { major: Math.floor(Number(rows[0]!.num) / 10_000), version: rows[0]!.version };
}
