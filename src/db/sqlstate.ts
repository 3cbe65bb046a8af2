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

/** Codes that mean "the database is busy or away; try again shortly". */
export const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  ...RETRY_CODES,
  SQLSTATE.QUERY_CANCELED,
  SQLSTATE.LOCK_NOT_AVAILABLE,
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
  SQLSTATE.TOO_MANY_CONNECTIONS,
]);

/** Network-level errors from the driver when the server cannot be reached. */
const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

export function sqlState(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string')
    return error.code;
  return undefined;
}

/** True when the error means the database did not answer (down, restarting, overloaded, timed out). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = sqlState(error);
  if (code && (UNAVAILABLE_CODES.has(code) || CONNECTION_ERROR_CODES.has(code))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(message);
}
