/**
 * The control center's admin token (SPEC 6): `Authorization: Bearer <CC_ADMIN_TOKEN>`.
 *
 * Both sides are hashed (SHA-256) before `timingSafeEqual`, so the comparison takes the same time
 * whatever the token's length or how many leading characters match.
 *
 * CC_ADMIN_TOKEN unset: development/test generate a random token at start and log it once; production
 * keeps /cc DISABLED — every control center route (and the predecessor's aliases) answers 403
 * problem+json saying so, until the variable is set. 403 rather than 404 so an operator sees why.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { problems } from '../../http/problem.ts';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * A checker for `Authorization: Bearer <token>` against one secret, in constant time (both sides hashed).
 * Shared by the control center and `GET /metrics` (src/metrics/metrics.ts).
 */
export function bearerMatcher(token: string): (authorization: string | undefined) => boolean {
  const expected = sha256(token);
  return (authorization) => {
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? '');
    return match !== null && timingSafeEqual(sha256(match[1]!), expected);
  };
}

/** The token the control center accepts, or undefined when it is disabled (production, unset). */
export function resolveAdminToken(config: Config, log: FastifyBaseLogger): string | undefined {
  if (config.ccAdminToken) return config.ccAdminToken;
  if (config.nodeEnv === 'production') {
    log.warn('CC_ADMIN_TOKEN is not set: the control center (/cc) is disabled');
    return undefined;
  }
  const token = randomBytes(32).toString('base64url');
  // Logged once, on purpose: a development convenience so /cc is usable without configuration.
  log.warn({ cc_admin_token: token }, 'CC_ADMIN_TOKEN is not set; generated a control center token');
  return token;
}

/** onRequest hook: 401 unless the bearer token matches; 403 when the control center is disabled. */
export function adminGuard(token: string | undefined) {
  const matches = token === undefined ? undefined : bearerMatcher(token);
  return async (request: FastifyRequest): Promise<void> => {
    if (!matches) {
      throw problems.forbidden('The control center is disabled: set CC_ADMIN_TOKEN to enable it');
    }
    if (!matches(request.headers.authorization)) {
      throw problems.unauthorized('A valid control center token is required');
    }
  };
}
