/**
 * The closed error catalogue (RFC 9457 problem details). Every 4xx/5xx the API sends is an HttpProblem
 * rendered by error-handler.ts, so status code and body always agree.
 */
import { Type } from 'typebox';

export const ErrorCode = {
  BadRequest: 'bad-request',
  Validation: 'validation',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not-found',
  MethodNotAllowed: 'method-not-allowed',
  RequestTimeout: 'request-timeout',
  HeadersTooLarge: 'headers-too-large',
  Conflict: 'conflict',
  Gone: 'gone',
  PreconditionFailed: 'precondition-failed',
  PayloadTooLarge: 'payload-too-large',
  UnsupportedMediaType: 'unsupported-media-type',
  Unprocessable: 'unprocessable',
  RateLimited: 'rate-limited',
  Internal: 'internal',
  Unavailable: 'unavailable',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const TITLES: Record<ErrorCode, string> = {
  'bad-request': 'Bad request',
  validation: 'Validation failed',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  'request-timeout': 'Request timeout',
  'headers-too-large': 'Request header fields too large',
  conflict: 'Conflict',
  gone: 'Gone',
  'precondition-failed': 'Precondition failed',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  unprocessable: 'Unprocessable content',
  'rate-limited': 'Too many requests',
  internal: 'Internal server error',
  unavailable: 'Service unavailable',
};

export interface FieldError {
  /** JSON pointer-ish location, e.g. `/body/email` or `/query/size`. */
  path: string;
  message: string;
}

export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extras: { errors?: FieldError[]; headers?: Record<string, string>; [key: string]: unknown } = {},
  ) {
    super(detail);
  }

  get title(): string {
    return TITLES[this.code];
  }

  toJSON(instance?: string) {
    const { headers: _headers, ...rest } = this.extras;
    return {
      type: `https://tenantry.dev/problems/${this.code}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...rest,
    };
  }
}

export const problems = {
  badRequest: (detail: string, errors?: FieldError[]) =>
    new HttpProblem(400, ErrorCode.BadRequest, detail, errors ? { errors } : {}),
  validation: (errors: FieldError[], detail = 'The request does not match the schema') =>
    new HttpProblem(400, ErrorCode.Validation, detail, { errors }),
  unauthorized: (detail = 'A valid bearer token is required') =>
    new HttpProblem(401, ErrorCode.Unauthorized, detail, { headers: { 'www-authenticate': 'Bearer' } }),
  forbidden: (detail: string) => new HttpProblem(403, ErrorCode.Forbidden, detail),
  notFound: (what: string, id?: string) =>
    new HttpProblem(
      404,
      ErrorCode.NotFound,
      id === undefined ? `${what} not found` : `${what} ${JSON.stringify(id)} not found`,
    ),
  conflict: (detail: string) => new HttpProblem(409, ErrorCode.Conflict, detail),
  gone: (detail: string, extras: Record<string, unknown> = {}) =>
    new HttpProblem(410, ErrorCode.Gone, detail, extras),
  /** If-Match no longer matches (src/http/etag.ts): the answer names the current ETag. */
  preconditionFailed: (etag: string) =>
    new HttpProblem(
      412,
      ErrorCode.PreconditionFailed,
      `The resource changed since you read it; its current ETag is ${etag}`,
      { headers: { etag } },
    ),
  unprocessable: (detail: string, errors?: FieldError[]) =>
    new HttpProblem(422, ErrorCode.Unprocessable, detail, errors ? { errors } : {}),
  rateLimited: (retryAfterSeconds: number) =>
    new HttpProblem(429, ErrorCode.RateLimited, `Too many requests; retry in ${retryAfterSeconds} s`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  unavailable: (detail: string, retryAfterSeconds = 5) =>
    new HttpProblem(503, ErrorCode.Unavailable, detail, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  internal: () =>
    new HttpProblem(500, ErrorCode.Internal, 'An unexpected error occurred; it has been logged'),
};

/** The one error schema every route references for its 4xx/5xx answers. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true },
);

/** `response` entries for the usual error statuses of a route. */
export function problemResponses(...statuses: number[]): Record<number, typeof ProblemRef> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemRef]));
}
export const ProblemRef = Type.Ref('Problem');
