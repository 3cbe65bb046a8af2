/**
 * What the server accepts from the wire before any route sees it (issue 14, test/http/request-input.test.ts):
 *
 *  - JSON bodies are decoded as strict UTF-8: invalid bytes are a 400, not silently U+FFFD stored for
 *    ever; a lone surrogate (`"\ud800"`, valid JSON, not valid Unicode) anywhere in the body is a 400
 *    naming the field, in every route at once (a task title and a control-center tenant name alike);
 *  - an EMPTY body sent with `content-type: application/json` is no body: many HTTP clients send that
 *    header on every request, and DELETE or `POST /tasks/{uuid}/restore` take none. A route that needs a
 *    body still answers 400 from its schema ("body must be object");
 *  - query strings are decoded as strict UTF-8 too: a percent-encoded byte sequence that is not UTF-8
 *    (`%FF`, an encoded surrogate `%ED%A0%80`) is a 400 naming the parameter — Fastify's default parser
 *    keeps such a value as its raw `%…` text, so `?search=%FF` searched for the three characters `%FF`;
 *  - a `tenant` or `Authorization` header sent twice is ambiguous (Node joins duplicate `tenant`s with
 *    ", " and silently keeps the first `Authorization`): 400 saying so;
 *  - `X-Request-Id` is echoed and logged only when it is a short token of safe characters; anything else
 *    (8 KB, JSON-looking text, control characters) gets a generated id instead;
 *  - errors Node's HTTP parser answers before Fastify runs (headers too large, a request that never
 *    finishes, malformed HTTP) are problem+json with a precise message, like every other answer.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ErrorCode, HttpProblem, problems } from './problem.ts';

/** Node's default `maxHeaderSize` (16 KiB), used when the server sets none. */
const MAX_HEADER_BYTES = 16 * 1024;

/** A request id we echo and log: letters, digits and `._:-`, at most 128 characters (UUIDs, trace ids). */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(request: IncomingMessage): string {
  const sent = request.headers['x-request-id'];
  return typeof sent === 'string' && SAFE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/** Headers that must come at most once; counted on the raw list, where Node has not merged them yet. */
const SINGLE_HEADERS = ['tenant', 'authorization'] as const;

function repeatedHeader(request: IncomingMessage): { name: string; times: number } | undefined {
  for (const name of SINGLE_HEADERS) {
    let times = 0;
    for (let i = 0; i < request.rawHeaders.length; i += 2)
      if (request.rawHeaders[i]?.toLowerCase() === name) times++;
    if (times > 1) return { name, times };
  }
  return undefined;
}

/** Unicode's surrogate code points: in a `u` regex they match only when unpaired (lone). */
const LONE_SURROGATE = /\p{Cs}/u;

/** The JSON pointer of the first key or string that holds a lone surrogate, if any. */
export function loneSurrogatePath(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path || '/' : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const here = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (LONE_SURROGATE.test(key)) return here;
    const found = loneSurrogatePath(item, here);
    if (found) return found;
  }
  return undefined;
}

/** Set (as a symbol, invisible to schemas) on a parsed query whose text was not valid UTF-8. */
const INVALID_QUERY = Symbol('tenantry.invalidQueryParameter');
type ParsedQuery = Record<string, unknown> & { [INVALID_QUERY]?: string };

function decodeComponent(text: string): string | undefined {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined; // URIError: not UTF-8 (or a stray '%')
  }
}

/**
 * Fastify's `querystringParser`: `a=1&a=2&b` → `{ a: ['1', '2'], b: '' }` as its default parser does,
 * but strict about UTF-8. A router-level parser cannot answer 400 itself, so the first bad parameter is
 * recorded on the result and the onRequest hook below refuses the request.
 */
export function parseQueryString(text: string): ParsedQuery {
  const query: ParsedQuery = Object.create(null);
  if (text === '') return query;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawKey = equals === -1 ? pair : pair.slice(0, equals);
    const key = decodeComponent(rawKey);
    const value = decodeComponent(equals === -1 ? '' : pair.slice(equals + 1));
    if (key === undefined || value === undefined) {
      query[INVALID_QUERY] ??= key ?? rawKey;
      continue;
    }
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[key] = [existing, value];
  }
  return query;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export const requestInput = fp(
  async (app: FastifyInstance) => {
    // Fastify's own parser keeps its guards (__proto__ and constructor keys refused, bad JSON → 400).
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const bytes = body as Buffer;
      if (bytes.length === 0) return done(null, undefined);
      let text: string;
      try {
        text = strictUtf8.decode(bytes);
      } catch {
        return done(problems.badRequest('The body is not valid UTF-8'), undefined);
      }
      parseJson(request, text, (error, parsed) => {
        if (error) return done(error, undefined);
        const path = loneSurrogatePath(parsed);
        if (path === undefined) return done(null, parsed);
        done(
          problems.badRequest('The body holds a lone surrogate (not valid Unicode)', [
            { path: `/body${path === '/' ? '' : path}`, message: 'contains a lone surrogate' },
          ]),
          undefined,
        );
      });
    });

    app.addHook('onRequest', async (request) => {
      const invalid = (request.query as ParsedQuery | undefined)?.[INVALID_QUERY];
      if (invalid !== undefined)
        throw problems.badRequest(
          `The query parameter "${invalid}" is not valid UTF-8 once percent-decoded`,
          [{ path: `/query/${invalid}`, message: 'must be percent-encoded UTF-8' }],
        );
      const repeated = repeatedHeader(request.raw);
      if (repeated)
        throw problems.badRequest(
          `The ${repeated.name} header was sent ${repeated.times} times; send it once`,
          [{ path: `/headers/${repeated.name}`, message: 'must be sent once' }],
        );
    });
  },
  { name: 'tenantry-request-input' },
);

function clientProblem(error: NodeJS.ErrnoException): HttpProblem {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HttpProblem(
        431,
        ErrorCode.HeadersTooLarge,
        `The request headers are larger than the server accepts (${MAX_HEADER_BYTES / 1024} KiB in all)`,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpProblem(408, ErrorCode.RequestTimeout, 'The request was not received in time');
    default:
      return problems.badRequest(`The request is not valid HTTP (${error.code ?? 'parse error'})`);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused the request before any route ran, so the
 * answer is written on the socket by hand — as problem+json — and the connection closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const problem = clientProblem(error);
    const body = JSON.stringify(problem.toJSON());
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_TEXT[problem.status] ?? 'Bad Request'}\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
