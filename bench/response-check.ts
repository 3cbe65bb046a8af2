/**
 * Before a route is measured, one sample answer is checked against the response schema the server
 * publishes for it (/docs/json, OpenAPI 3.0), made strict: every object schema refuses properties it does
 * not list. So the benchmarked requests provably return the documented bodies, not an error or a stub.
 */
import { Ajv, type ValidateFunction } from 'ajv';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A deep copy with `additionalProperties: false` on every object schema that lists its properties —
 * except the parts of an `allOf`, which each list only some of the properties (closing them would refuse
 * every answer).
 */
function strict(schema: unknown, close = true): unknown {
  if (Array.isArray(schema)) return schema.map((item) => strict(item, close));
  if (!isObject(schema)) return schema;
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = strict(value, key !== 'allOf');
  if (close && isObject(copy.properties) && copy.additionalProperties === undefined)
    copy.additionalProperties = false;
  return copy;
}

export class ResponseChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });

  constructor(private readonly openapi: JsonObject) {
    this.ajv.addFormat(
      'date-time',
      (value: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value) && !Number.isNaN(Date.parse(value)),
    );
    this.ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    this.ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
  }

  private validator(method: string, path: string, status: number): ValidateFunction {
    const paths = this.openapi.paths;
    const operation =
      isObject(paths) && isObject(paths[path]) ? paths[path][method.toLowerCase()] : undefined;
    const responses = isObject(operation) ? operation.responses : undefined;
    const response = isObject(responses) ? responses[String(status)] : undefined;
    const content = isObject(response) ? response.content : undefined;
    // Answers are JSON, errors problem+json (src/http/openapi.ts documents them so).
    const json = isObject(content)
      ? (content['application/json'] ?? content['application/problem+json'])
      : undefined;
    const schema = isObject(json) ? json.schema : undefined;
    if (!isObject(schema)) throw new Error(`/docs/json has no ${status} JSON schema for ${method} ${path}`);
    // Local $refs (#/components/…) resolve inside the document they are compiled with.
    return this.ajv.compile({ ...(strict(schema) as JsonObject), components: this.openapi.components });
  }

  /** Throws with Ajv's errors when `body` does not match the documented `status` answer of the route. */
  check(method: string, path: string, status: number, body: unknown): void {
    const validate = this.validator(method, path, status);
    if (!validate(body))
      throw new Error(
        `${method} ${path} answered a body that does not match its ${status} schema: ${this.ajv.errorsText(validate.errors)}`,
      );
  }
}
