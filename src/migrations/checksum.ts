/**
 * Revision checksums that ignore formatting and comments (issue 13), so the pre-commit formatter, a
 * re-indented statement or a new comment never makes an applied revision look "drifted"; only a change
 * to what runs does.
 *
 * A revision body is either SQL text (what is hashed is the SQL) or a function (what is hashed is the
 * module's TypeScript source). Both are reduced to their tokens before hashing: comments dropped, every
 * run of whitespace outside quoted text made one space (none next to punctuation), trailing commas
 * dropped. Quoted text (string literals, quoted identifiers, dollar-quoted bodies, template literals) is
 * kept verbatim: a change inside it changes what runs.
 *
 * This scanner only feeds a fingerprint; nothing executed is derived from it.
 */
import { createHash } from 'node:crypto';

interface Dialect {
  quotes: string;
  lineComment: string;
  dollarQuotes: boolean;
}

const SQL: Dialect = { quotes: `'"`, lineComment: '--', dollarQuotes: true };
const SCRIPT: Dialect = { quotes: `'"\``, lineComment: '//', dollarQuotes: false };

const PUNCTUATION = /[(),;[\]{}=:<>+*/|&!?.-]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/;

/** Index just past the quoted run opening at `start` (a doubled quote or a backslash escape inside). */
function endOfQuoted(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '\\') i += 2;
    else if (char === quote && text[i + 1] === quote && quote !== '`') i += 2;
    else if (char === quote) return i + 1;
    else i += 1;
  }
  return text.length;
}

/** `text` as tokens separated by single spaces, comments removed (see the module comment). */
export function normalizeText(text: string, dialect: Dialect): string {
  const tokens: string[] = [];
  let word = '';
  const flush = () => {
    if (word) tokens.push(word);
    word = '';
  };
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (dialect.quotes.includes(char)) {
      const end = endOfQuoted(text, i, char);
      word += text.slice(i, end);
      i = end;
    } else if (text.startsWith(dialect.lineComment, i)) {
      flush();
      const newline = text.indexOf('\n', i);
      i = newline === -1 ? text.length : newline + 1;
    } else if (text.startsWith('/*', i)) {
      flush();
      const close = text.indexOf('*/', i + 2);
      i = close === -1 ? text.length : close + 2;
    } else if (dialect.dollarQuotes && char === '$' && DOLLAR_TAG.test(text.slice(i, i + 64))) {
      const tag = DOLLAR_TAG.exec(text.slice(i, i + 64))![0];
      const close = text.indexOf(tag, i + tag.length);
      const end = close === -1 ? text.length : close + tag.length;
      word += text.slice(i, end);
      i = end;
    } else if (/\s/.test(char)) {
      flush();
      i += 1;
    } else if (PUNCTUATION.test(char)) {
      flush();
      tokens.push(char);
      i += 1;
    } else {
      word += char;
      i += 1;
    }
  }
  flush();
  // A trailing comma (`f(a, b,)`, `[a,]`) is formatting, not meaning.
  return tokens
    .filter((token, index) => !(token === ',' && /^[)\]}]$/.test(tokens[index + 1] ?? '')))
    .join(' ');
}

/** SQL tokens; a final `;` is formatting too (one statement reads the same with or without it). */
export const normalizeSql = (text: string) => normalizeText(text, SQL).replace(/( ;)+$/, '');
export const normalizeScript = (text: string) => normalizeText(text, SCRIPT);

/** Prefix of checksums computed this way; older rows hold a bare SHA-256 of the file (not comparable). */
export const CHECKSUM_VERSION = 'v2:';

/**
 * The checksum of a revision: its SQL bodies when both are text, otherwise its module source. Computed the
 * same from src/ and from the build (the build copies the .ts sources next to the compiled modules).
 */
export function revisionChecksum(up: unknown, down: unknown, source: string): string {
  const material =
    typeof up === 'string' && typeof down === 'string'
      ? `sql\0${normalizeSql(up)}\0${normalizeSql(down)}`
      : `script\0${normalizeScript(source)}`;
  return CHECKSUM_VERSION + createHash('sha256').update(material).digest('hex');
}

/** False for a checksum recorded by an older version of the runner (cannot be recomputed, not compared). */
export const comparableChecksum = (recorded: string | null): recorded is string =>
  recorded?.startsWith(CHECKSUM_VERSION) ?? false;
