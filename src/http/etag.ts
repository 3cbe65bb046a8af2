/**
 * Optimistic concurrency (issue 19): strong ETags from row versions, `If-Match` on writes, `If-None-Match`
 * on reads.
 *
 * The validator is the row's `version` column (tenant revision 549b9b3f0a9b), bumped by a trigger on every
 * UPDATE of the row, so no code path can change a row without changing its ETag. It is answered in the
 * body too (`version`), and as `ETag: "v<version>"` by the `onSend` hook of `safeWrites`
 * (src/http/safe-writes.ts) on every single-resource answer whose JSON carries a top-level `version`.
 *
 * `If-Match` is checked INSIDE the write's transaction, after the row is locked (`checkVersion`), so
 * of 50 concurrent PATCHes sending the same ETag exactly one passes; the others see the bumped version
 * and answer 412 with the current ETag, having changed nothing. Without `If-Match` writes are unchanged.
 * Comparison is strong (RFC 9110 13.1.1): a weak validator (`W/"…"`) never matches.
 */
import { createHash } from 'node:crypto';
import type { AnyDb } from '../db/hosts.ts';
import { problems } from './problem.ts';

/** The ETag of a row version. */
export const versionEtag = (version: number): string => `"v${version}"`;

/** The entity tags of an If-Match / If-None-Match header (`*` as itself); weak ones keep their `W/`. */
function entityTags(header: string): string[] {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag.length > 0);
}

/** Strong comparison (If-Match): `*` matches any current representation, weak tags never match. */
export function ifMatchPasses(header: string, current: string): boolean {
  return entityTags(header).some((tag) => tag === '*' || tag === current);
}

/** Weak comparison (If-None-Match on GET, RFC 9110 13.1.2): `W/"x"` matches `"x"`. */
export function ifNoneMatchHits(header: string, current: string): boolean {
  const strip = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return entityTags(header).some((tag) => tag === '*' || strip(tag) === strip(current));
}

/** The request's If-Match header, or undefined (once; a repeated header is refused by request-input.ts). */
export function ifMatchOf(request: { headers: Record<string, string | string[] | undefined> }) {
  const value = request.headers['if-match'];
  return typeof value === 'string' ? value : undefined;
}

export type VersionedTable = 'users' | 'groups' | 'lists' | 'tasks' | 'tags' | 'comments';

/**
 * Inside the write's transaction: locks the row (`FOR UPDATE`; callers that already hold it lose
 * nothing) and refuses with 412 when `ifMatch` does not match its current version. A missing row is
 * left to the caller (its own 404). Call it at the point of the caller's lock order where it locks the
 * row (src/routes/tasks/task-locks.ts): after any position lock, before other rows.
 */
export async function checkVersion(
  trx: AnyDb,
  table: VersionedTable,
  uuid: string,
  ifMatch: string | undefined,
): Promise<void> {
  if (ifMatch === undefined) return;
  const row: { version: number } | undefined = await trx
    .selectFrom(table)
    .select('version')
    .where('uuid', '=', uuid)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return;
  const current = versionEtag(row.version);
  if (!ifMatchPasses(ifMatch, current)) throw problems.preconditionFailed(current);
}

/**
 * The ETag of a JSON answer that carries a top-level integer `version` (a single resource), else
 * undefined. Pages (`{items, …}`) and answers without a version get none.
 */
export function etagOfPayload(payload: unknown): string | undefined {
  if (typeof payload !== 'string' || payload[0] !== '{' || !payload.includes('"version"')) return undefined;
  try {
    const body: unknown = JSON.parse(payload);
    const version: unknown = body && typeof body === 'object' ? Reflect.get(body, 'version') : undefined;
    if (typeof version === 'number' && Number.isInteger(version)) return versionEtag(version);
  } catch {
    // Not JSON (never expected here): no ETag rather than a failed answer.
  }
  return undefined;
}

/** Keys sorted at every level, so equal values always give the same text (and the same ETag). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, inner]) => [key, canonical(inner)]),
    );
  return value;
}

/**
 * A strong ETag for a representation that is not one row (the settings map: defaults merged with stored
 * keys): a hash of its canonical JSON. Equal values, equal ETag; any change of a value changes it.
 */
export function contentEtag(value: unknown): string {
  return `"c${createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('base64url')
    .slice(0, 22)}"`;
}
