/**
 * Tenant ids double as PostgreSQL schema names (SPEC 6): `^[a-z][a-z0-9_]{0,62}$` (63 bytes is
 * PostgreSQL's identifier limit), never `public`, `information_schema` or anything starting with `pg_`.
 * Every schema name the code uses passes through `assertTenantId` first.
 */
import { randomBytes } from 'node:crypto';

export const TENANT_ID_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

const RESERVED = new Set(['public', 'information_schema', 'extensions', 'tenantry', 'default']);

export class InvalidTenantIdError extends Error {
  override name = 'InvalidTenantIdError';
}

/** Why `candidate` is not a usable tenant id, or null when it is. */
export function tenantIdProblem(candidate: unknown): string | null {
  if (typeof candidate !== 'string' || candidate === '') return 'tenant id is required';
  if (!TENANT_ID_PATTERN.test(candidate)) {
    return 'tenant id must start with a-z and contain only a-z, 0-9 and _ (at most 63 characters)';
  }
  if (candidate.startsWith('pg_')) return 'tenant id must not start with pg_ (reserved by PostgreSQL)';
  if (RESERVED.has(candidate)) return `tenant id "${candidate}" is reserved`;
  return null;
}

export function isTenantId(candidate: unknown): candidate is string {
  return tenantIdProblem(candidate) === null;
}

export function assertTenantId(candidate: unknown): string {
  const problem = tenantIdProblem(candidate);
  if (problem) throw new InvalidTenantIdError(problem);
  return candidate as string;
}

/** Letters that NFKD does not decompose into ASCII. */
const TRANSLITERATION: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
  ħ: 'h',
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ё: 'e',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'y',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'h',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'sch',
  ъ: '',
  ы: 'y',
  ь: '',
  э: 'e',
  ю: 'yu',
  я: 'ya',
};

/** "Polski Koncern Naftowy ORLEN" → "polski_koncern_naftowy_orlen" (at most 28 characters). */
export function slugifyCompanyName(name: string): string {
  const ascii = [...name.toLowerCase()]
    .map((char) => TRANSLITERATION[char] ?? char)
    .join('')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '');
  let slug = ascii.replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  slug = slug.slice(0, 28).replace(/_+$/, '');
  if (!/^[a-z]/.test(slug)) slug = `t_${slug}`.slice(0, 28).replace(/_+$/, '');
  return slug === 't' || slug === '' ? 'tenant' : slug;
}

/** A fresh tenant id from a company name: slug + `_` + 12 random hex characters (SPEC 6). */
export function deriveTenantId(companyName: string): string {
  let slug = slugifyCompanyName(companyName);
  if (slug.startsWith('pg_')) slug = `t_${slug}`.slice(0, 28);
  return `${slug}_${randomBytes(6).toString('hex')}`;
}
