/**
 * Errors as people see them: every failed API call becomes an ApiError carrying the problem's `title`
 * and `detail` (RFC 9457, as the server answers) and its field errors keyed by form field, so a form can
 * show each next to its input.
 */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  /** Field name (`email`, `rows.2.email`) → message. */
  readonly fields: Record<string, string>;
  /** Seconds from Retry-After, when the server sent it. */
  readonly retryAfter: number | undefined;

  constructor(problem: Problem, retryAfter?: number) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.fields = fieldErrors(problem.errors ?? []);
    this.retryAfter = retryAfter;
  }
}

/** `/email` → `email`, `/body/due_at` → `due_at`, `/rows/2/email` → `rows.2.email`. */
export function fieldName(path: string): string {
  const parts = path.split('/').filter((part) => part !== '');
  if (parts[0] === 'body' || parts[0] === 'querystring') parts.shift();
  return parts.join('.');
}

export function fieldErrors(errors: { path: string; message: string }[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const error of errors) {
    const name = fieldName(error.path);
    // The first message per field is enough to act on; later ones repeat the same mistake.
    if (name && !(name in fields)) fields[name] = error.message;
  }
  return fields;
}

/** A problem from any answer: the server's problem+json, or a made-up one for a bare status. */
export function toProblem(status: number, body: unknown): Problem {
  if (body && typeof body === 'object' && 'title' in body && typeof body.title === 'string') {
    const candidate = body as Partial<Problem>;
    return {
      type: candidate.type,
      title: candidate.title ?? 'Error',
      status: typeof candidate.status === 'number' ? candidate.status : status,
      detail: typeof candidate.detail === 'string' ? candidate.detail : '',
      errors: Array.isArray(candidate.errors) ? candidate.errors : undefined,
    };
  }
  return { title: status >= 500 ? 'Server error' : 'Request failed', status, detail: `HTTP ${status}` };
}

/** Retry-After in seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Wait before retry number `attempt` (1-based) after a network failure: 1, 2, 4, 8 … at most 15 s. */
export function backoffMs(attempt: number, retryAfterSeconds?: number): number {
  if (retryAfterSeconds !== undefined) return Math.min(60, retryAfterSeconds) * 1000;
  return Math.min(15_000, 1000 * 2 ** (attempt - 1));
}
