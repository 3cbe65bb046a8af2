/**
 * One renderer for every error: Fastify's own (validation, body too large, bad JSON), database errors
 * mapped by SQLSTATE, our HttpProblems, and anything unexpected (logged, hidden from the client).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, SQLSTATE, sqlState, unavailableAnswer } from '../db/sqlstate.ts';
import { type FieldError, HttpProblem, problems } from './problem.ts';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function fieldErrors(error: FastifyError): FieldError[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  return ((error.validation ?? []) as ValidationIssue[]).map((issue) => {
    let path = `/${context}${issue.instancePath ?? ''}`;
    const missing = issue.params?.missingProperty ?? issue.params?.requiredProperties;
    const extra = issue.params?.additionalProperty;
    if (typeof missing === 'string') path += `/${missing}`;
    if (typeof extra === 'string') path += `/${extra}`;
    const message =
      typeof extra === 'string' ? 'is not an allowed property' : (issue.message ?? 'is invalid');
    return { path, message };
  });
}

/** Turns any thrown value into an HttpProblem; unexpected ones become a bare 500. */
export function toProblem(error: unknown): { problem: HttpProblem; unexpected: boolean } {
  if (error instanceof HttpProblem) return { problem: error, unexpected: false };
  const fastifyError = error as FastifyError;
  if (fastifyError?.validation)
    return { problem: problems.validation(fieldErrors(fastifyError)), unexpected: false };

  const code = sqlState(error);
  if (isDatabaseUnavailable(error)) {
    const { detail, retryAfter } = unavailableAnswer(error);
    return { problem: problems.unavailable(detail, retryAfter), unexpected: false };
  }
  switch (code) {
    case SQLSTATE.UNIQUE_VIOLATION:
      return { problem: problems.conflict('A record with the same unique value exists'), unexpected: false };
    case SQLSTATE.FOREIGN_KEY_VIOLATION:
      // A row it refers to vanished in the meantime (e.g. a list deleted while a task is created in it).
      return {
        problem: problems.conflict('A record it refers to was changed or removed; reload and retry'),
        unexpected: false,
      };
    case SQLSTATE.INVALID_TEXT_REPRESENTATION:
    case SQLSTATE.CHARACTER_NOT_IN_REPERTOIRE:
      return { problem: problems.badRequest('A value has an invalid format'), unexpected: false };
    case SQLSTATE.CHECK_VIOLATION:
    case SQLSTATE.STRING_DATA_RIGHT_TRUNCATION:
    case SQLSTATE.NOT_NULL_VIOLATION:
      return { problem: problems.unprocessable('A value breaks a data rule'), unexpected: false };
    default:
      break;
  }

  const status = typeof fastifyError?.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status === 413)
    return {
      problem: new HttpProblem(413, 'payload-too-large', 'The request body is too large'),
      unexpected: false,
    };
  if (status === 415)
    return {
      problem: new HttpProblem(415, 'unsupported-media-type', fastifyError.message),
      unexpected: false,
    };
  if (status === 429) return { problem: problems.rateLimited(60), unexpected: false };
  if (status === 503)
    return {
      problem: problems.unavailable(fastifyError.message || 'Service unavailable'),
      unexpected: false,
    };
  if (status >= 400 && status < 500)
    return { problem: problems.badRequest(fastifyError.message), unexpected: false };
  return { problem: problems.internal(), unexpected: true };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: HttpProblem) {
  for (const [name, value] of Object.entries(problem.extras.headers ?? {})) reply.header(name, value);
  return reply.code(problem.status).type('application/problem+json').send(problem.toJSON(request.url));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { problem, unexpected } = toProblem(error);
    if (unexpected) request.log.error({ err: error }, 'unexpected error');
    else if (problem.status >= 500) request.log.warn({ err: error }, problem.detail);
    return sendProblem(request, reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, problems.notFound('route', `${request.method} ${request.url.split('?')[0]}`)),
  );
}
