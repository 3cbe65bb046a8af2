/**
 * One `Idempotency-Key` per person's action, so a write that reached the server before the connection
 * broke is not done twice when it is sent again:
 *
 * - the API client's own retries re-send the same Request, header included;
 * - after the client gave up (the person sees "cannot reach the server") and presses the button again,
 *   the same request (method, address, body) within `windowMs` gets the same key back;
 * - any answer from the server settles the action: the next identical request is a new action
 *   (adding two tasks with the same title on purpose makes two).
 */
export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface Pending {
  key: string;
  at: number;
}

export class IdempotencyKeys {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly windowMs = 10 * 60_000,
    private readonly newKey: () => string = () => crypto.randomUUID(),
    private readonly now: () => number = Date.now,
  ) {}

  /** The key for a write: a fresh one, or the one of the same write that never got an answer. */
  keyFor(fingerprint: string): string {
    const now = this.now();
    for (const [print, entry] of this.pending) {
      if (now - entry.at > this.windowMs) this.pending.delete(print);
    }
    const known = this.pending.get(fingerprint);
    if (known) return known.key;
    const key = this.newKey();
    this.pending.set(fingerprint, { key, at: now });
    return key;
  }

  /** The server answered the write with this key (success or a problem): forget it. */
  settle(key: string | null) {
    if (!key) return;
    for (const [print, entry] of this.pending) if (entry.key === key) this.pending.delete(print);
  }

  get size(): number {
    return this.pending.size;
  }
}

export function fingerprint(method: string, url: string, tenant: string, body: string): string {
  return `${method} ${url} ${tenant}\n${body}`;
}
