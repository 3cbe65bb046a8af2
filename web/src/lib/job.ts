/**
 * Polling a fleet migration job: ask again after `intervalMs` while it runs, stop when it finished or the
 * page went away. A failed poll (network, 503) is retried by the API client; a job that vanished (404:
 * the server restarted) ends the polling with that error.
 */
export interface PollOptions<T> {
  fetch: () => Promise<T>;
  done: (value: T) => boolean;
  onUpdate: (value: T) => void;
  intervalMs?: number;
  signal?: AbortSignal;
}

export async function pollUntilDone<T>(options: PollOptions<T>): Promise<T | undefined> {
  for (;;) {
    if (options.signal?.aborted) return undefined;
    const value = await options.fetch();
    options.onUpdate(value);
    if (options.done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}
