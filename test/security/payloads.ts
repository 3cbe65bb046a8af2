/**
 * Hostile inputs for the injection tests (SPEC 11): SQL metacharacters, dollar quoting, NUL bytes,
 * homoglyphs and invisible characters, very long strings, JSON type confusion and prototype-pollution
 * keys. `hostileValue` is the same idea as a fast-check arbitrary, for property-based runs.
 */
import fc from 'fast-check';

export const SQL_STRINGS: readonly string[] = [
  "'",
  "''",
  '"',
  "' OR '1'='1",
  "' OR 1=1 --",
  "1'; DROP TABLE users; --",
  "x'); DROP SCHEMA public CASCADE; --",
  '"; DROP TABLE "tasks"; --',
  '1; SELECT pg_sleep(5); --',
  "'; COMMIT; CREATE ROLE evil SUPERUSER; --",
  '$$; DROP TABLE tasks; $$',
  '$tag$ DROP TABLE tasks $tag$',
  '/* */ UNION SELECT token_hash FROM sessions --',
  '\\',
  "\\'; DROP TABLE users; --",
  '%',
  '_%_',
  '%27%20OR%201%3D1',
  '../../../etc/passwd',
  `\${7*7}{{7*7}}`,
];

export const UNICODE_STRINGS: readonly string[] = [
  'a\u0000b',
  '\u0000',
  '\u0430dmin', // Cyrillic а
  '\uFF24\uFF32\uFF2F\uFF30 \uFF34\uFF21\uFF22\uFF2C\uFF25', // full-width DROP TABLE
  'admin\u200b', // zero-width space
  '\u202Eevil', // right-to-left override
  '\u02BC OR 1=1 --', // modifier-letter apostrophe
  '\uD800', // lone surrogate
  '😀\u{1F4A9}',
];

export const LONG_STRING = 'x'.repeat(10_000);

export const STRING_PAYLOADS: readonly string[] = [...SQL_STRINGS, ...UNICODE_STRINGS, LONG_STRING];

/** JSON values of the wrong type for a string field (and strings for the others). */
export const TYPE_PAYLOADS: readonly unknown[] = [
  0,
  -1,
  1e308,
  3.5,
  true,
  false,
  null,
  [],
  ["' OR 1=1 --"],
  {},
  { $ne: null },
  JSON.parse('{"__proto__": {"polluted": "yes"}}'),
  { constructor: { prototype: { polluted: 'yes' } } },
];

export const ALL_PAYLOADS: readonly unknown[] = [...STRING_PAYLOADS, ...TYPE_PAYLOADS];

/** How a payload travels in a URL or header: strings as they are, the rest as JSON text. */
export const asText = (payload: unknown): string =>
  typeof payload === 'string' ? payload : JSON.stringify(payload);

/**
 * What a string becomes once it is UTF-8 on the wire: lone surrogates (not Unicode scalar values) turn
 * into U+FFFD, in URLs and in the pg driver alike.
 */
export const wellFormed = (text: string): string => text.replace(/\p{Cs}/gu, '\uFFFD');

/** `encodeURIComponent` that does not throw on lone surrogates. */
export const encode = (text: string): string => encodeURIComponent(wellFormed(text));

/** True when a header value can be sent at all (HTTP forbids control characters and non-latin1). */
export const sendableInHeader = (value: string): boolean => /^[\t\x20-\x7e\x80-\xff]*$/.test(value);

/** fast-check: a corpus payload, arbitrary text (any code point, lone surrogates too) or any JSON. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...ALL_PAYLOADS),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ maxLength: 50 }).map((s) => `${s}'; DROP TABLE users; --`),
  fc.jsonValue({ maxDepth: 3 }),
);
