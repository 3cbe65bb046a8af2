/**
 * Tenant domain names (issue 21): one normal form for what operators type and for what clients send in
 * `Host`, so the two meet in one map lookup.
 *
 * Normal form: lower-case ASCII (IDNA via node's `url.domainToASCII`: `Bäckerei.example` →
 * `xn--bckerei-5wa.example`, full-width letters folded), no trailing dot, labels of RFC 1123
 * (letters, digits, inner hyphens, 1–63 characters), at most 253 characters, never an IP literal (the
 * last label is never all digits, which also refuses the WHATWG IPv4 forms `127.1` and `0x7f`).
 *
 * A bare label (`acme`) becomes `acme.<TENANT_BASE_DOMAIN>` when that is set. Without it a bare label
 * stays a single-label domain: it matches a request whose Host is exactly `acme` (an intranet name, an
 * /etc/hosts entry, `curl --resolve acme:8000:127.0.0.1`). `localhost` is never a tenant domain (it is
 * every developer's API host), nor is the base domain itself (the operator's own site).
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export const DOMAIN_MAX_LENGTH = 253;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Characters a URL parser would act on (percent-decoding, ports, userinfo, paths): never in a name. */
const FORBIDDEN = /[%/\\:@[\]?#\s]/;
/** Already in normal form (no punycode to verify): the common case of a Host header, checked without IDNA. */
const PLAIN = /^[a-z0-9.-]+$/;
/** WHATWG URL's "ends in a number": a host parsed as IPv4 by browsers (`127.1`, `0x7f`, `1.2.3.4`). */
const NUMERIC_LAST_LABEL = /^(\d+|0x[0-9a-f]*)$/;

export class InvalidDomainError extends Error {
  override name = 'InvalidDomainError';
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(
      `invalid domain ${JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}…` : input)}: ${reason}`,
    );
  }
}

/** Why `ascii` (lower-case ASCII, no trailing dot) is not a domain, or undefined when it is one. */
function shapeProblem(ascii: string): string | undefined {
  if (ascii.length === 0) return 'it is empty';
  if (ascii.length > DOMAIN_MAX_LENGTH) return `longer than ${DOMAIN_MAX_LENGTH} characters`;
  if (isIP(ascii)) return 'an IP address is not a domain';
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length === 0) return 'it has an empty label (two dots in a row, or a leading dot)';
    if (label.length > 63) return 'a label is longer than 63 characters';
    if (!LABEL.test(label))
      return `label ${JSON.stringify(label)} may hold only letters, digits and inner hyphens (RFC 1123)`;
  }
  if (NUMERIC_LAST_LABEL.test(labels.at(-1)!))
    return 'an IP address is not a domain (browsers read a numeric last label as IPv4)';
  return undefined;
}

/** IDNA + lower case; '' when the name cannot be converted. Never percent-decodes (FORBIDDEN first). */
function toAscii(name: string): string {
  if (FORBIDDEN.test(name)) return '';
  return PLAIN.test(name) && !name.includes('xn--') ? name : domainToASCII(name);
}

/**
 * What an operator typed → the stored domain. Throws InvalidDomainError saying why not.
 * `baseDomain` is the normalised TENANT_BASE_DOMAIN (or undefined).
 */
export function normalizeDomain(input: string, baseDomain?: string): string {
  let name = input.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '') throw new InvalidDomainError(input, 'it is empty');
  if (isIP(name.replace(/^\[(.*)\]$/, '$1')))
    throw new InvalidDomainError(input, 'an IP address is not a domain');
  if (baseDomain !== undefined && !name.includes('.')) name = `${name}.${baseDomain}`;
  const ascii = toAscii(name);
  if (ascii === '') throw new InvalidDomainError(input, 'not a valid host name (IDNA)');
  const problem = shapeProblem(ascii);
  if (problem) throw new InvalidDomainError(input, problem);
  if (ascii === 'localhost') throw new InvalidDomainError(input, '"localhost" is reserved');
  if (ascii === baseDomain)
    throw new InvalidDomainError(input, 'the base domain itself is not a tenant domain');
  return ascii;
}

/** TENANT_BASE_DOMAIN → its normal form, or a reason it is not usable. */
export function baseDomainProblem(raw: string): { domain: string } | { problem: string } {
  let name = raw.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const ascii = toAscii(name);
  const problem = ascii === '' ? 'not a valid host name (IDNA)' : shapeProblem(ascii);
  // Room for at least a one-character label in front of it.
  if (!problem && ascii.length > DOMAIN_MAX_LENGTH - 2) return { problem: 'too long to have subdomains' };
  return problem ? { problem } : { domain: ascii };
}

/**
 * A request's host name (Fastify's `request.hostname`: the Host header without its port) → the domain
 * to look up, or null when it cannot be a tenant domain (absent, an IP literal, malformed). Never throws:
 * a Host that is no tenant domain behaves as if routing by Host did not exist.
 */
export function hostDomain(hostname: string | undefined): string | null {
  if (hostname === undefined || hostname === '' || hostname.length > DOMAIN_MAX_LENGTH + 1) return null;
  let name = hostname.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const ascii = toAscii(name);
  if (ascii === '' || shapeProblem(ascii) !== undefined) return null;
  return ascii;
}
