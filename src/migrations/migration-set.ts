/**
 * Loads a set of migration modules (public or tenant) from its folder and validates the revision chain.
 *
 * File name: `YYYY_MM_DD_HHMM-<12 hex revision>_<slug>.ts`. Each module exports `description`, `follows`
 * (the revision before it, or null for the first), `up` and `down`. `up`/`down` are either SQL text (the
 * usual case: the runner sends it as one query, search_path set to the schema) or a function, for a
 * revision with logic (it runs statement by statement on the runner's connection). Order is by file name, and the chain
 * declared by `follows` must agree with it: a broken link or two revisions following the same parent
 * (a fork, e.g. from two branches merged) is refused with the file names involved.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyDb } from '../db/hosts.ts';
import { revisionChecksum } from './checksum.ts';

export const MIGRATION_FILE = /^(\d{4}_\d{2}_\d{2}_\d{4})-([0-9a-f]{12})_([a-z0-9_]+)\.(ts|js)$/;

export type MigrationSetName = 'public' | 'tenant' | 'host';

export interface MigrationContext {
  /** Quoted-safe schema name this migration runs in (search_path is set to it). */
  schema: string;
}

/** `db` is bound to the migration's transaction; unqualified names resolve to the target schema. */
export type MigrationFunction = (db: AnyDb, context: MigrationContext) => Promise<void>;

/** SQL text (one query, unqualified names resolve to the schema) or a function (a revision with logic). */
export type MigrationBody = string | MigrationFunction;

export interface MigrationModule {
  description: string;
  follows: string | null;
  up: MigrationBody;
  down: MigrationBody;
}

export interface Migration extends MigrationModule {
  revision: string;
  /** File name without extension, e.g. `2026_11_26_1300-0123456789ab_users_and_roles`. */
  name: string;
  file: string;
  /** `v2:` + SHA-256 of what runs, formatting and comments ignored (checksum.ts). */
  checksum: string;
}

export class MigrationSetError extends Error {
  override name = 'MigrationSetError';
}

export class MigrationSet {
  private readonly byRevision: Map<string, Migration>;

  constructor(
    readonly name: MigrationSetName,
    readonly migrations: readonly Migration[],
  ) {
    this.byRevision = new Map(migrations.map((m) => [m.revision, m]));
  }

  get head(): string | null {
    return this.migrations.at(-1)?.revision ?? null;
  }

  get(revision: string): Migration | undefined {
    return this.byRevision.get(revision);
  }

  indexOf(revision: string): number {
    return this.migrations.findIndex((m) => m.revision === revision);
  }

  /**
   * Resolves `head`, `base` (→ null) or a revision prefix of at least 4 hex characters, as Alembic does.
   */
  resolve(target: string): string | null {
    if (target === 'head') return this.head;
    if (target === 'base') return null;
    if (!/^[0-9a-f]{4,12}$/.test(target)) {
      throw new MigrationSetError(
        `"${target}" is not a revision: use head, base, or 4 to 12 hex characters of a revision id`,
      );
    }
    const matches = this.migrations.filter((m) => m.revision.startsWith(target));
    if (matches.length === 0) throw new MigrationSetError(`no ${this.name} revision matches "${target}"`);
    if (matches.length > 1) {
      throw new MigrationSetError(
        `"${target}" is ambiguous among ${this.name} revisions: ${matches.map((m) => m.revision).join(', ')}`,
      );
    }
    return matches[0]!.revision;
  }
}

/** Folder of a set next to this module (src/migrations/<set> or dist/src/migrations/<set>). */
export function migrationFolder(set: MigrationSetName): string {
  return fileURLToPath(new URL(`./${set}/`, import.meta.url));
}

function isMigrationModule(value: unknown): value is MigrationModule {
  if (!value || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.description === 'string' &&
    (m.follows === null || typeof m.follows === 'string') &&
    (typeof m.up === 'function' || typeof m.up === 'string') &&
    (typeof m.down === 'function' || typeof m.down === 'string')
  );
}

export async function loadMigrationSet(
  set: MigrationSetName,
  folder = migrationFolder(set),
): Promise<MigrationSet> {
  const entries = (await readdir(folder)).filter((file) => !file.endsWith('.d.ts')).sort();
  // In a build both the compiled .js and the copied .ts source sit side by side; import the .js.
  const names = new Map<string, string>();
  for (const file of entries) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) {
      if (/\.(ts|js)$/.test(file) && !file.endsWith('.map')) {
        throw new MigrationSetError(
          `${set} migration file "${file}" does not follow YYYY_MM_DD_HHMM-<12 hex>_<slug>.ts`,
        );
      }
      continue;
    }
    const base = file.replace(/\.(ts|js)$/, '');
    if (!names.has(base) || file.endsWith('.js')) names.set(base, file);
  }

  const migrations: Migration[] = [];
  for (const [base, file] of [...names.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const revision = MIGRATION_FILE.exec(file)![2]!;
    const modulePath = path.join(folder, file);
    const loaded: unknown = await import(pathToFileURL(modulePath).href);
    if (!isMigrationModule(loaded)) {
      throw new MigrationSetError(
        `${set} migration ${file} must export description, follows, up and down (SQL text or functions)`,
      );
    }
    const sourcePath = path.join(folder, `${base}.ts`);
    const source = await readFile(existsSync(sourcePath) ? sourcePath : modulePath, 'utf8');
    migrations.push({
      revision,
      name: base,
      file,
      description: loaded.description,
      follows: loaded.follows,
      up: loaded.up,
      down: loaded.down,
      checksum: revisionChecksum(loaded.up, loaded.down, source),
    });
  }
  validateChain(set, migrations);
  return new MigrationSet(set, migrations);
}

function validateChain(set: string, migrations: Migration[]): void {
  const seen = new Map<string, Migration>();
  for (const m of migrations) {
    const twin = seen.get(m.revision);
    if (twin)
      throw new MigrationSetError(`${set} revision ${m.revision} is used by both ${twin.file} and ${m.file}`);
    seen.set(m.revision, m);
  }
  const children = new Map<string | null, Migration[]>();
  for (const m of migrations) {
    const siblings = children.get(m.follows);
    if (siblings) siblings.push(m);
    else children.set(m.follows, [m]);
  }
  for (const [parent, kids] of children) {
    if (kids.length > 1) {
      throw new MigrationSetError(
        `${set} migrations fork: ${kids.map((k) => k.file).join(' and ')} both follow ${parent ?? 'base'}; make one follow the other`,
      );
    }
  }
  migrations.forEach((m, index) => {
    const expected = index === 0 ? null : migrations[index - 1]!.revision;
    if (m.follows === expected) return;
    if (m.follows !== null && !seen.has(m.follows)) {
      throw new MigrationSetError(
        `${set} migration ${m.file} follows ${m.follows}, which no file has (broken chain)`,
      );
    }
    throw new MigrationSetError(
      `${set} migration ${m.file} follows ${m.follows ?? 'base'} but the file before it by name is ${
        index === 0 ? 'none' : migrations[index - 1]!.file
      } (file order and chain disagree)`,
    );
  });
}
