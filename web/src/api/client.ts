/**
 * The one API client: openapi-fetch typed by schema.d.ts, which is generated from the server's OpenAPI
 * document (`npm run api:generate`), so a renamed field or route breaks `npm run typecheck`, not a page.
 *
 * - Each request carries the session's bearer token and `tenant` header; /cc requests carry the
 *   operator's CC_ADMIN_TOKEN instead.
 * - A network failure or a 503 is retried with backoff while a banner says so (`network`); nothing the
 *   person typed is lost, the call just finishes later or fails with a readable message.
 * - Every write (POST, PUT, PATCH, DELETE) carries an `Idempotency-Key` (lib/idempotency.ts), the same
 *   on every retry of one action, so a retry after a lost answer does not do the write twice.
 * - `unwrap` turns an error answer into an ApiError (title, detail, field errors); a 401 outside the
 *   control center ends the session.
 */
import createClient from 'openapi-fetch';
import { reactive } from 'vue';
import { fingerprint, IdempotencyKeys, WRITE_METHODS } from '../lib/idempotency.ts';
import { ApiError, backoffMs, parseRetryAfter, toProblem } from '../lib/problem.ts';
import { endSession, session } from '../lib/session.ts';
import type { paths } from './schema.js';

export const network = reactive({ retrying: false, message: '' });

const CC_KEY = 'tenantry.cc-token';
export const operator = reactive<{ token: string | null }>({ token: sessionStorage.getItem(CC_KEY) });
export function setOperatorToken(token: string | null) {
  if (token) sessionStorage.setItem(CC_KEY, token);
  else sessionStorage.removeItem(CC_KEY);
  operator.token = token;
}

const MAX_ATTEMPTS = 5;
const keys = new IdempotencyKeys();

/** Waits `ms`, or less when the browser says the connection is back. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
  });
}

function announce(message: string) {
  network.retrying = true;
  network.message = message;
}

/**
 * fetch with retries: the body is cloned per attempt, so a retried write sends the same thing with the
 * same Idempotency-Key. Offline (as the browser knows it), the request waits for the connection instead
 * of spending its attempts.
 */
async function retryingFetch(request: Request): Promise<Response> {
  const key = request.headers.get('idempotency-key');
  for (let attempt = 1; ; attempt++) {
    while (!navigator.onLine) {
      announce(
        key
          ? 'You are offline. Your change is kept and will be sent when the connection is back…'
          : 'You are offline. Waiting for the connection…',
      );
      await sleep(60_000);
    }
    try {
      const response = await fetch(request.clone());
      if (response.status !== 503 || attempt >= 3) {
        keys.settle(key);
        return settle(response);
      }
      const wait = backoffMs(attempt, parseRetryAfter(response.headers.get('retry-after')));
      announce(`The server is busy; retrying in ${Math.round(wait / 1000)} s…`);
      await sleep(Math.min(wait, 10_000));
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS) {
        network.retrying = false;
        // The key stays known: pressing the button again sends this write with the same key.
        throw new ApiError({
          title: 'Network error',
          status: 0,
          detail: 'The server cannot be reached. Check your connection; nothing was lost, try again.',
        });
      }
      const wait = backoffMs(attempt);
      announce(`Cannot reach the server; retrying in ${Math.round(wait / 1000)} s…`);
      console.warn('request failed, retrying', error);
      await sleep(wait);
    }
  }
}

function settle(response: Response) {
  network.retrying = false;
  network.message = '';
  return response;
}

export const api = createClient<paths>({ baseUrl: '', fetch: retryingFetch });

api.use({
  async onRequest({ request, schemaPath }) {
    if (schemaPath.startsWith('/cc')) {
      if (operator.token) request.headers.set('authorization', `Bearer ${operator.token}`);
    } else if (session.data) {
      request.headers.set('authorization', `Bearer ${session.data.token}`);
      request.headers.set('tenant', session.data.tenant);
    }
    if (WRITE_METHODS.has(request.method) && !request.headers.has('idempotency-key')) {
      const body = request.body ? await request.clone().text() : '';
      const print = fingerprint(request.method, request.url, request.headers.get('tenant') ?? '', body);
      request.headers.set('idempotency-key', keys.keyFor(print));
    }
    return request;
  },
});

/** Called on a 401 of a signed-in person (set by the router: go to the login page). */
export const onSignedOut: { handler: () => void } = { handler: () => {} };

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful answer, or an ApiError. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  if (response.status === 401 && !new URL(response.url, location.href).pathname.startsWith('/cc')) {
    if (session.data) {
      endSession();
      onSignedOut.handler();
    }
  }
  throw new ApiError(toProblem(response.status, error), parseRetryAfter(response.headers.get('retry-after')));
}

/** Downloads a CSV export with the session's headers (a plain link could not send them). */
export async function download(path: string, filename: string) {
  const response = await retryingFetch(
    new Request(path, {
      headers: session.data
        ? { authorization: `Bearer ${session.data.token}`, tenant: session.data.tenant }
        : {},
    }),
  );
  if (!response.ok) throw new ApiError(toProblem(response.status, await response.json().catch(() => null)));
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  URL.revokeObjectURL(url);
}
