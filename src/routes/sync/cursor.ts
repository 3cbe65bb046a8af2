/**
 * Sync cursors: opaque to clients (base64url of `c1.<last event id>`), so the encoding can change
 * without breaking anyone who treats them as strings. A cursor names the last event its holder has seen.
 */
import { problems } from '../../http/problem.ts';

const PREFIX = 'c1.';

export function encodeCursor(lastId: string | number | bigint): string {
  return Buffer.from(`${PREFIX}${lastId}`).toString('base64url');
}

/** The event id a cursor stands for; a cursor we did not make → 400. */
export function decodeCursor(cursor: string): bigint {
  const text = Buffer.from(cursor, 'base64url').toString();
  const digits = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!/^\d{1,18}$/.test(digits) || encodeCursor(digits) !== cursor) {
    throw problems.badRequest('Not a sync cursor', [{ path: '/query/cursor', message: 'unknown cursor' }]);
  }
  return BigInt(digits);
}
