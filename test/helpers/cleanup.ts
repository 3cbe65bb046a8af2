/**
 * File-scoped clean-up that works wherever a helper is called. Vitest silently ignores an `afterAll`
 * registered inside `beforeAll`, so helpers push their clean-up here instead, and test/setup/cleanup.ts
 * (a setupFiles entry, loaded at the top level of every test file) runs the list after the file, newest
 * first: apps close before their cores, cores before their databases are dropped.
 */
const cleanups: Array<() => unknown> = [];

export function onFileEnd(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

export async function runFileCleanups(): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} clean-up step(s) failed`);
}
