/**
 * PostgreSQL error codes (SQLSTATE) we act on, with their condition names, in one place.
 * https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505', // unique_violation → 409
  FOREIGN_KEY_VIOLATION: '23503', // foreign_key_violation → 409/404
  CHECK_VIOLATION: '23514', // check_violation → 422
  NOT_NULL_VIOLATION: '23502', // not_null_violation → 422
  INVALID_TEXT_REPRESENTATION: '22P02', // invalid_text_representation (bad uuid, enum) → 400
  STRING_DATA_RIGHT_TRUNCATION: '22001', // string_data_right_truncation → 422
  CHARACTER_NOT_IN_REPERTOIRE: '22021', // character_not_in_repertoire (NUL byte in text) → 400
  QUERY_CANCELED: '57014', // query_canceled (statement_timeout) → 503 + Retry-After
  LOCK_NOT_AVAILABLE: '55P03', // lock_not_available (lock_timeout) → 503 + Retry-After
  SERIALIZATION_FAILURE: '40001', // serialization_failure → retried once, then 503 + Retry-After
  DEADLOCK_DETECTED: '40P01', // deadlock_detected → retried once, then 503 + Retry-After
  DUPLICATE_SCHEMA: '42P06', // duplicate_schema → 409
  INVALID_SCHEMA_NAME: '3F000', // invalid_schema_name (schema missing)
  UNDEFINED_TABLE: '42P01', // undefined_table
  DUPLICATE_DATABASE: '42P04', // duplicate_database
  INVALID_CATALOG_NAME: '3D000', // invalid_catalog_name (database missing)
  ADMIN_SHUTDOWN: '57P01', // admin_shutdown (server stopping) → 503
  CANNOT_CONNECT_NOW: '57P03', // cannot_connect_now (server starting) → 503
  TOO_MANY_CONNECTIONS: '53300', // too_many_connections → 503
  INVALID_PASSWORD: '28P01', // invalid_password
  FEATURE_NOT_SUPPORTED: '0A000', // feature_not_supported (a stale prepared plan: isStalePlan)
} as const;

/** Codes after which the same transaction may succeed when run again (src/db/transaction.ts). */
export const RETRY_CODES: ReadonlySet<string> = new Set([
  SQLSTATE.SERIALIZATION_FAILURE,
  SQLSTATE.DEADLOCK_DETECTED,
]);

export function isRetryable(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && RETRY_CODES.has(code);
}

/**
 * A named statement's plan made before a migration changed what it returns (a column's type): the
 * statement must be prepared again (SQLSTATE 0A000, feature_not_supported, with this message).
 */
export function isStalePlan(error: unknown): boolean {
  return (
    sqlState(error) === SQLSTATE.FEATURE_NOT_SUPPORTED &&
    String((error as { message?: unknown }).message).includes('cached plan must not change result type')
  );
}

/** Codes that mean "the database is busy or away; try again shortly". */
export const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  ...RETRY_CODES,
  SQLSTATE.QUERY_CANCELED,
  SQLSTATE.LOCK_NOT_AVAILABLE,
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
  SQLSTATE.TOO_MANY_CONNECTIONS,
]);

/**
 * Not a SQLSTATE: our own code for a checkout refused because too many requests already wait for a
 * connection of the pool (src/db/hosts.ts, BoundedPool) → 503 + Retry-After at once.
 */
export const POOL_SATURATED = 'TENANTRY_POOL_SATURATED';

/**
 * Errors of the socket under the driver when the server cannot be reached, over TCP or a Unix socket.
 * ENOENT and EACCES only count for `connect` (the socket file of a stopped server is gone, or not ours):
 * from any other call they are file errors, not the database.
 */
const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', // nobody listens (TCP), or a stale Unix socket file
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const CONNECT_ONLY_CODES: ReadonlySet<string> = new Set(['ENOENT', 'EACCES']);

/**
 * Messages of node-postgres and pg-pool (they carry no code) when a connection is lost, never opened in
 * time, or used after it broke.
 */
const LOST_CONNECTION =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end/i;

export function sqlState(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string')
    return error.code;
  return undefined;
}

/**
 * True when the error means the database did not answer: down, restarting (57P03), shutting down or an
 * operator ended the session (57P01), too busy (53300, a lock or statement timeout, our pool's queue
 * full), a deadlock or serialization failure that survived its retry, or any way of losing the connection
 * (refused, reset, timed out, the Unix socket file gone). Every one answers 503 + Retry-After.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = sqlState(error);
  if (code && (UNAVAILABLE_CODES.has(code) || CONNECTION_ERROR_CODES.has(code) || code === POOL_SATURATED))
    return true;
  if (code && CONNECT_ONLY_CODES.has(code) && syscallOf(error) === 'connect') return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  const message = error instanceof Error ? error.message : '';
  return LOST_CONNECTION.test(message);
}

function syscallOf(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'syscall' in error && typeof error.syscall === 'string')
    return error.syscall;
  return undefined;
}

/** The problem detail and Retry-After (seconds) of an `isDatabaseUnavailable` error. */
export function unavailableAnswer(error: unknown): { detail: string; retryAfter: number } {
  const code = sqlState(error);
  if (code === POOL_SATURATED)
    return {
      detail: 'The server is busy: too many requests wait for the database; try again shortly',
      retryAfter: 1,
    };
  if (code && RETRY_CODES.has(code))
    return { detail: 'Too many concurrent changes of the same data; try again shortly', retryAfter: 1 };
  return { detail: 'The database is not answering; try again shortly', retryAfter: 5 };
}
