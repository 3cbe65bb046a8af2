/**
 * Secrets handed to clients: session tokens and one-time tokens (SPEC 11). 256 random bits, base64url
 * (43 characters); only the SHA-256 of a token is ever stored, so a leaked database holds no usable token.
 * A fast hash suffices (unlike passwords): the input has 256 bits of entropy, nothing to brute-force.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isTenantId } from '../tenancy/tenant-id.ts';

const SECRET = /^[A-Za-z0-9_-]{43}$/;

export interface IssuedToken {
  /** Give this to the client, once. */
  token: string;
  /** Store this. */
  hash: Buffer;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A fresh session token. */
export function issueSessionToken(): IssuedToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

/** The token of an `Authorization: Bearer …` header, or null for anything malformed (→ 401). */
export function bearerToken(header: string | undefined): string | null {
  if (typeof header !== 'string') return null;
  // A session token, or an API token (`tnt_` + the same 43 characters, src/auth/api-tokens.ts).
  const match = /^Bearer ((?:tnt_)?[A-Za-z0-9_-]{43})$/i.exec(header.trim());
  return match ? match[1]! : null;
}

/**
 * One-time tokens travel in e-mail links and come back without a `tenant` header (the front end only
 * posts the token), so they carry their tenant: `<tenant_id>.<secret>`. The tenant part only routes the
 * lookup; the secret alone is hashed and must match a row in that tenant's schema.
 */
export function issueTenantToken(tenantId: string): IssuedToken {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${tenantId}.${secret}`, hash: hashToken(secret) };
}

export function parseTenantToken(token: string): { tenantId: string; hash: Buffer } | null {
  const dot = token.lastIndexOf('.');
  if (dot < 1) return null;
  const tenantId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (!isTenantId(tenantId) || !SECRET.test(secret)) return null;
  return { tenantId, hash: hashToken(secret) };
}
