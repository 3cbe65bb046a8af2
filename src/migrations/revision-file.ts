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

/**
 * A string literal the way the formatter writes it (biome: single quotes, unless double quotes need fewer
 * escapes), so the generated file passes `npm run lint` untouched. Control characters are escaped.
 */
export function stringLiteral(text: string): string {
  const singles = (text.match(/'/g) ?? []).length;
  const doubles = (text.match(/"/g) ?? []).length;
  const quote = singles > doubles ? '"' : "'";
  const escaped = text
    .replace(/\\/g, '\\\\')
    .replaceAll(quote, `\\${quote}`)
    .replace(/[\p{Cc}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${quote}${escaped}${quote}`;
}

/** The message as one line of a block comment: no comment end (star, slash), no control characters. */
function commentLine(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, ' ').replaceAll('*/', '* /');
}

/** `export const name = value;`, broken after `=` when longer than the formatter's line width (110). */
function assignment(name: string, value: string): string {
  const line = `export const ${name} = ${value};`;
  return line.length <= 110 ? line : `export const ${name} =\n  ${value};`;
}

export function revisionTemplate(message: string, follows: string | null): string {
  const description = message.trim().replace(/\s+/g, ' ');
  return `/**
 * ${commentLine(description)}
 *
 * Why: <say why this change is needed>.
 *
 * \`up\` and \`down\` are SQL text: the runner sends each as one query inside its transaction, with
 * search_path set to the target schema, so write unqualified names. Keep down the exact inverse of up.
 * A revision that needs logic (reading results, catching an error) exports functions instead:
 * \`export const up: MigrationFunction = async (db) => { … }\` (see src/migrations/migration-set.ts).
 */
${assignment('description', stringLiteral(description))}
export const follows = ${follows === null ? 'null' : stringLiteral(follows)};

export const up = \`
SELECT 1;
\`;

export const down = \`
SELECT 1;
\`;
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
