/**
 * A counting semaphore with a bounded queue. Password hashing runs on libuv's thread pool (4 threads by
 * default), which file and DNS work share; letting every login hash at once would queue those behind
 * argon2 and let a burst of logins grow memory without bound. Past `maxQueued` waiters the caller is
 * told to back off (QueueFullError → 503 + Retry-After) instead of waiting forever.
 */

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor() {
    super('too many operations are waiting');
  }
}

export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued) throw new QueueFullError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }
}
