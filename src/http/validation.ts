/**
 * Request validation: querystring, path parameters and headers arrive as text, so they are coerced to the
 * schema's types (`?size=10` → 10, a single `?status=todo` → `['todo']`); a JSON body arrives typed and is
 * validated as sent. With one coercing validator for everything (Fastify's default setup),
 * `{"title": ["x"]}` passed as `"x"` and `{"position": "3"}` as 3 — lenient input a client should be told
 * about (test/security/body-types.test.ts).
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

const COMMON = { removeAdditional: false, useDefaults: true, allErrors: true } as const;

type BuildValidator = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
>;

export function validatorFactory(): BuildValidator {
  const pool = AjvCompiler();
  // The server sets no `ajv` option of its own: these are all the options there are.
  return (externalSchemas) => {
    const text = pool(externalSchemas, { customOptions: { ...COMMON, coerceTypes: 'array' } });
    const json = pool(externalSchemas, { customOptions: { ...COMMON, coerceTypes: false } });
    return (route) => (route.httpPart === 'body' ? json(route) : text(route));
  };
}
