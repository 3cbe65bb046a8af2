/**
 * PostgreSQL's memory as the operating system sees it: the private memory (Private_Clean + Private_Dirty
 * of /proc/<pid>/smaps_rollup) of each backend serving a client, found in pg_stat_activity. Shared
 * buffers are shared memory and not counted; what a backend adds — parse trees, plans, catalog caches,
 * work memory — is private. Needs read access to the backends' /proc entries (root, or the postgres user).
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';

export interface BackendMemory {
  pid: number;
  applicationName: string;
  privateMb: number;
}

export async function privateMb(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
}

/** Every client backend of the server at `databaseUrl` but the one asking (optionally one application's). */
export async function backendsMemory(
  databaseUrl: string,
  applicationName?: string,
): Promise<BackendMemory[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; application_name: string }>(
      `SELECT pid, application_name FROM pg_stat_activity
       WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
         AND ($1::text IS NULL OR application_name = $1)`,
      [applicationName ?? null],
    );
    const backends: BackendMemory[] = [];
    for (const row of rows) {
      // A backend may exit between the two reads (a recycled connection): it holds nothing then.
      const mb = await privateMb(row.pid).catch(() => undefined);
      if (mb !== undefined)
        backends.push({ pid: row.pid, applicationName: row.application_name, privateMb: mb });
    }
    return backends;
  } finally {
    await client.end();
  }
}

/** Sum and largest of `backendsMemory`. */
export async function postgresMemory(
  databaseUrl: string,
  applicationName?: string,
): Promise<{ totalMb: number; largestMb: number; backends: number }> {
  const backends = await backendsMemory(databaseUrl, applicationName);
  return {
    totalMb: backends.reduce((sum, b) => sum + b.privateMb, 0),
    largestMb: Math.max(0, ...backends.map((b) => b.privateMb)),
    backends: backends.length,
  };
}
