/**
 * Parameters inlined as literals (src/migrations/sql-literals.ts): placeholders are replaced only in SQL
 * code, never inside strings, quoted identifiers, dollar-quoted bodies or comments; values read exactly as
 * pg would send them; anything not reproduced faithfully is refused.
 */
import { describe, expect, it } from 'vitest';
import { inlineParameters, sqlLiteral } from '../../src/migrations/sql-literals.ts';

describe('sqlLiteral', () => {
  it('quotes scalars as pg sends them (text of unknown type), NULL for null and undefined', () => {
    expect(sqlLiteral("it's")).toBe("'it''s'");
    expect(sqlLiteral(5)).toBe("'5'");
    expect(sqlLiteral(12345678901234567890n)).toBe("'12345678901234567890'");
    expect(sqlLiteral(true)).toBe("'true'");
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral(undefined)).toBe('NULL');
  });

  it('writes E-strings for backslashes, whatever standard_conforming_strings says', () => {
    expect(sqlLiteral('a\\b')).toBe(" E'a\\\\b'");
  });

  it('writes arrays in pg’s array-literal format, nested and with NULLs', () => {
    expect(sqlLiteral(['a', 'b "c"', null, 'd\\e'])).toBe(` E'{"a","b \\\\"c\\\\"",NULL,"d\\\\\\\\e"}'`);
    expect(sqlLiteral([[1, 2], [3]])).toBe(`'{{"1","2"},{"3"}}'`);
  });

  it('refuses what it does not reproduce faithfully: dates, buffers, objects, functions', () => {
    expect(sqlLiteral(new Date())).toBeUndefined();
    expect(sqlLiteral(Buffer.from('x'))).toBeUndefined();
    expect(sqlLiteral({ a: 1 })).toBeUndefined();
    expect(sqlLiteral([new Date()])).toBeUndefined();
    expect(sqlLiteral(() => 1)).toBeUndefined();
  });
});

describe('inlineParameters', () => {
  it('replaces placeholders in SQL code', () => {
    expect(inlineParameters('SELECT $1::int + $2, $10', [1, 2, 3, 4, 5, 6, 7, 8, 9, 'ten'])).toBe(
      "SELECT '1'::int + '2', 'ten'",
    );
    expect(inlineParameters('SELECT 1', [])).toBe('SELECT 1');
  });

  it('leaves $n alone inside strings, E-strings, quoted identifiers, dollar quotes and comments', () => {
    const text = [
      "SELECT 'costs $1', E'it\\'s $1', \"col$1\", a$1, $1",
      '-- a comment about $1',
      '/* block /* nested $1 */ still $1 */ $2',
      'CREATE FUNCTION f(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 $$',
      'DO $body$ BEGIN PERFORM $1; END $body$',
    ].join('\n');
    expect(inlineParameters(text, ['x', 'y'])).toBe(
      [
        "SELECT 'costs $1', E'it\\'s $1', \"col$1\", a$1, 'x'",
        '-- a comment about $1',
        "/* block /* nested $1 */ still $1 */ 'y'",
        'CREATE FUNCTION f(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 $$',
        'DO $body$ BEGIN PERFORM $1; END $body$',
      ].join('\n'),
    );
  });

  it('refuses a placeholder without a value or with a value it cannot inline', () => {
    expect(inlineParameters('SELECT $2', ['only one'])).toBeNull();
    expect(inlineParameters('SELECT $1', [new Date()])).toBeNull();
  });
});
