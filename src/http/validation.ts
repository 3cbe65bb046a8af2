/**
 * Request validation: querystring, path parameters and headers arrive as text, so they are coerced to the
 * schema's types (`?size=10` → 10, a single `?status=todo` → `['todo']`); a JSON body arrives typed and is
 * validated as sent. With one coercing validator for everything (Fastify's default setup),
 * `{"title": ["x"]}` passed as `"x"` and `{"position": "3"}` as 3 — lenient input a client should be told
 * about (test/security/body-types.test.ts).
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { Ajv } from 'ajv';
import type { FastifyServerOptions } from 'fastify';

/**
 * Dates are limited to years 1–9999 (SPEC 11, issue 14): what PostgreSQL and JavaScript both hold exactly
 * and both write as four-digit years. Year 0000 is 1 BC to PostgreSQL (a PATCH stored it as BC and read it
 * back as 1 AD) and a `timestamptz` past 294276 is 22008 (a 500). Checked on the UTC instant, so
 * `0001-01-01T00:00:00+01:00` (year 0 in UTC) is refused too.
 */
export const MIN_YEAR = 1;
export const MAX_YEAR = 9999;

const inYears = (year: number) => year >= MIN_YEAR && year <= MAX_YEAR;

type FormatCheck = (text: string) => boolean;
type AjvFormats = Pick<Ajv, 'formats' | 'addFormat'>;

/** ajv-formats' own check of `name`, whatever shape it was registered in. */
function formatCheck(ajv: AjvFormats, name: string): FormatCheck {
  const format: unknown = ajv.formats[name];
  const check: unknown =
    format instanceof RegExp || typeof format === 'function'
      ? format
      : typeof format === 'object' && format !== null && 'validate' in format
        ? format.validate
        : undefined;
  if (check instanceof RegExp) return (text) => check.test(text);
  if (typeof check === 'function') return (text) => check(text) === true;
  throw new Error(`ajv has no synchronous "${name}" format to restrict`);
}

/** `date-time` and `date` as ajv-formats checks them, and within years 1–9999. */
function limitDates(ajv: AjvFormats): void {
  const dateTime = formatCheck(ajv, 'date-time');
  const date = formatCheck(ajv, 'date');
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (text) => dateTime(text) && inYears(new Date(text).getUTCFullYear()),
  });
  ajv.addFormat('date', {
    type: 'string',
    validate: (text) => date(text) && inYears(Number(text.slice(0, 4))),
  });
}

const COMMON = { removeAdditional: false, useDefaults: true, allErrors: true } as const;

type BuildValidator = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
>;

export function validatorFactory(): BuildValidator {
  const pool = AjvCompiler();
  // The server sets no `ajv` option of its own: these are all the options there are.
  return (externalSchemas) => {
    const onCreate = limitDates;
    const text = pool(externalSchemas, { customOptions: { ...COMMON, coerceTypes: 'array' }, onCreate });
    const json = pool(externalSchemas, { customOptions: { ...COMMON, coerceTypes: false }, onCreate });
    return (route) => (route.httpPart === 'body' ? json(route) : text(route));
  };
}
