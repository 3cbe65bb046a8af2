/**
 * Work that must not delay (or shape the timing of) an answer — e.g. the password-reset e-mail, since
 * "always 202" must not take longer when the account exists. Errors are logged, never thrown; `settle`
 * lets app.close() (and tests) wait for what is still running.
 */
import type { FastifyBaseLogger } from 'fastify';

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: FastifyBaseLogger) {}

  run(name: string, work: () => Promise<void>): void {
    const task = work()
      .catch((error: unknown) => this.log.error({ err: error, task: name }, 'background task failed'))
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
