/**
 * Bound parameters turned into SQL literals, so recorded statements can travel as one simple-protocol
 * query (which takes no parameters). See revision-script.ts for why.
 *
 * The text of each literal is exactly what `pg` sends for the value (its `prepareValue`: `toString()` for
 * scalars, its array-literal format for arrays), and the literal is quoted, so PostgreSQL types it the way
 * it types a parameter `pg` sent: `unknown`, resolved from the context (`'5'` where `$1` held 5, never a
 * bare `5`, which would be an integer). Values whose conversion is less obvious (dates, which `pg` renders
 * in the process's time zone; buffers; objects) are refused with `null`, and the caller runs the statement
 * the ordinary way.
 */
import { escapeLiteral } from 'pg';

/** The text `pg` would send for `value`, or `undefined` when this module does not reproduce it. */
function parameterText(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return value.toString();
    case 'object':
      return Array.isArray(value) ? arrayText(value) : undefined;
    default:
      return undefined;
  }
}

/** pg's `arrayString`: `{"a","b",NULL,{…}}` with backslashes and double quotes escaped in elements. */
function arrayText(values: readonly unknown[]): string | undefined {
  const elements: string[] = [];
  for (const value of values) {
    if (Array.isArray(value)) {
      const nested = arrayText(value);
      if (nested === undefined) return undefined;
      elements.push(nested);
      continue;
    }
    const text = parameterText(value);
    if (text === undefined) return undefined;
    elements.push(text === null ? 'NULL' : `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  }
  return `{${elements.join(',')}}`;
}

/** `value` as a quoted SQL literal (or `NULL`); `undefined` when it cannot be inlined faithfully. */
export function sqlLiteral(value: unknown): string | undefined {
  const text = parameterText(value);
  if (text === undefined) return undefined;
  // escapeLiteral writes E'…' when the text holds a backslash, so it reads the same whatever
  // standard_conforming_strings says.
  return text === null ? 'NULL' : escapeLiteral(text);
}

const IDENTIFIER_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** Index just past the end of the quoted run that opens at `start` (`'…'` or `"…"`, doubled quote inside). */
function endOfQuoted(text: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < text.length) {
    const char = text[i]!;
    if (backslashEscapes && char === '\\') i += 2;
    else if (char === quote && text[i + 1] === quote) i += 2;
    else if (char === quote) return i + 1;
    else i += 1;
  }
  return text.length;
}

/** Index just past the end of the (nestable) block comment opening at `start`. */
function endOfBlockComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (text.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return text.length;
}

/**
 * `text` with every `$n` placeholder replaced by the literal of `values[n - 1]`. Placeholders are only
 * looked for outside string literals, quoted identifiers, dollar-quoted bodies and comments, so a `$1`
 * inside a function body or a string stays as written. `null` when a placeholder has no value or a value
 * cannot be inlined faithfully (see `sqlLiteral`).
 */
export function inlineParameters(text: string, values: readonly unknown[]): string | null {
  if (values.length === 0) return text;
  let out = '';
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    const previous = i > 0 ? text[i - 1]! : ' ';
    if (char === "'") {
      // E'…' (an E that is not the end of a longer word) takes backslash escapes.
      const escaped = (previous === 'E' || previous === 'e') && !IDENTIFIER_CHAR.test(text[i - 2] ?? ' ');
      i = endOfQuoted(text, i, "'", escaped);
    } else if (char === '"') {
      i = endOfQuoted(text, i, '"', false);
    } else if (text.startsWith('--', i)) {
      const newline = text.indexOf('\n', i);
      i = newline === -1 ? text.length : newline + 1;
    } else if (text.startsWith('/*', i)) {
      i = endOfBlockComment(text, i);
    } else if (char === '$' && !IDENTIFIER_CHAR.test(previous)) {
      const placeholder = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (placeholder) {
        const index = Number(placeholder[1]) - 1;
        const literal = index < values.length ? sqlLiteral(values[index]) : undefined;
        if (literal === undefined) return null;
        out += text.slice(copiedUpTo, i) + literal;
        i += placeholder[0].length;
        copiedUpTo = i;
        continue;
      }
      const tag = DOLLAR_TAG.exec(text.slice(i, i + 200));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? text.length : close + tag[0].length;
      } else {
        i += 1;
      }
    } else {
      i += 1;
    }
  }
  return out + text.slice(copiedUpTo);
}
