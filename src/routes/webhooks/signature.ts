/**
 * `Tenantry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` — Stripe's scheme: the
 * timestamp is signed with the body, so a receiver can refuse old replays (docs/integrations.md).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const digest = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${digest}`;
}

/** The receiver's check (also what docs/integrations.md shows): signature right and not too old. */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const parts = new Map(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = Buffer.from(parts.get('v1') ?? '', 'hex');
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return (
    Number.isInteger(t) &&
    Math.abs(nowSeconds - t) <= toleranceSeconds &&
    given.length === expected.length &&
    timingSafeEqual(given, expected)
  );
}
