/**
 * CSV for user export/import. Export: `;`-separated (what spreadsheet programs in most of Europe expect),
 * UTF-8 with a byte-order mark (so Excel reads the encoding right), CRLF, header row, RFC 4180 quoting.
 * Cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a leading `'`
 * (CSV injection). Import accepts `;` or `,` (taken from the header line), quoted fields, CRLF or LF.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

function cell(value: string, delimiter: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /["\r\n]/.test(safe) || safe.includes(delimiter) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(rows: string[][], delimiter = ';'): string {
  return `\uFEFF${rows.map((row) => row.map((value) => cell(value, delimiter)).join(delimiter)).join('\r\n')}\r\n`;
}

export class CsvSyntaxError extends Error {
  override name = 'CsvSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** Rows of cells with the line each row starts on. Empty lines are skipped. */
export function parseCsv(text: string): Array<{ line: number; cells: string[] }> {
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const firstLine = input.slice(0, input.search(/\r?\n|$/));
  const delimiter = firstLine.split(';').length >= firstLine.split(',').length ? ';' : ',';
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let fieldStarted = false;
  const endRow = () => {
    cells.push(field);
    if (cells.length > 1 || cells[0] !== '') rows.push({ line: rowLine, cells });
    cells = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < input.length; i++) {
    const char = input[i]!;
    if (quoted) {
      if (char === '"') {
        if (input[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
      continue;
    }
    if (char === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (char === delimiter) {
      cells.push(field);
      field = '';
      fieldStarted = false;
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && input[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      if (char === '"') throw new CsvSyntaxError(line, 'a quote inside an unquoted field');
      field += char;
      fieldStarted = true;
    }
  }
  if (quoted) throw new CsvSyntaxError(rowLine, 'a quoted field is not closed');
  if (field !== '' || cells.length > 0) endRow();
  return rows;
}
