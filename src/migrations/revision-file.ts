/**
 * `tenantry db revision -m "…"`: a new migration file from a template, following the current head.
 * There is no autogenerate, on purpose: every change to a tenant schema is written and reviewed by hand.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadMigrationSet, type MigrationSetName, migrationFolder } from './migration-set.ts';

/** The source folder of a set, also when running from the build (dist/src/… → src/…). */
export function sourceFolder(set: MigrationSetName): string {
  return migrationFolder(set).replace(
    `${path.sep}dist${path.sep}src${path.sep}`,
    `${path.sep}src${path.sep}`,
  );
}

export function slugOf(message: string): string {
  const slug = message
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40)
    .replace(/_+$/, '');
  return slug || 'revision';
}

function timestamp(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}`;
}

export function revisionTemplate(message: string, follows: string | null): string {
  const description = message.trim().replace(/\s+/g, ' ');
  return `/**
 * ${description}
 *
 * Why: <say why this change is needed>. Runs inside the runner's transaction with search_path set to
 * the target schema, so write unqualified names. Keep down() the exact inverse of up().
 */
import { sql } from 'kysely';
import type { MigrationFunction } from '../migration-set.ts';

export const description = ${JSON.stringify(description)};
export const follows = ${follows === null ? 'null' : JSON.stringify(follows)};

export const up: MigrationFunction = async (db) => {
  await sql\`SELECT 1\`.execute(db);
};

export const down: MigrationFunction = async (db) => {
  await sql\`SELECT 1\`.execute(db);
};
`;
}

export async function writeRevisionFile(
  set: MigrationSetName,
  message: string,
  folder: string = sourceFolder(set),
  now = new Date(),
): Promise<{ path: string; revision: string; follows: string | null }> {
  const current = await loadMigrationSet(set, folder);
  let revision = randomBytes(6).toString('hex');
  while (current.get(revision)) revision = randomBytes(6).toString('hex');
  // File order must follow the chain: a new file never sorts before (or ties with) the current head.
  const last = current.migrations.at(-1);
  let when = now;
  if (last) {
    const [y, mo, d, hm] = last.name.slice(0, 15).split('_').map(Number) as [number, number, number, number];
    const lastTime = Date.UTC(y, mo - 1, d, Math.floor(hm / 100), hm % 100);
    if (now.getTime() < lastTime + 60_000) when = new Date(lastTime + 60_000);
  }
  const stamp = timestamp(when);
  const file = path.join(folder, `${stamp}-${revision}_${slugOf(message)}.ts`);
  await writeFile(file, revisionTemplate(message, current.head), { flag: 'wx' });
  return { path: file, revision, follows: current.head };
}
