/**
 * A small INI reader for the backup config file (the predecessor's `sample.config` format):
 * `[section]` headers, `key = value` or `key: value` lines, `#`/`;` comment lines, optional single or
 * double quotes around values. Section and key names are case-insensitive (stored lower-case), as in
 * Python's configparser, which the predecessor used.
 */

export type IniSections = Map<string, Map<string, string>>;

export class IniSyntaxError extends Error {
  override name = 'IniSyntaxError';
}

export function parseIni(text: string, source: string): IniSections {
  const sections: IniSections = new Map();
  let current: Map<string, string> | undefined;
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim().toLowerCase();
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!pair) throw new IniSyntaxError(`${source}:${index + 1}: expected "[section]" or "key = value"`);
    if (!current)
      throw new IniSyntaxError(`${source}:${index + 1}: "${pair[1]}" appears before any [section]`);
    current.set(pair[1]!.toLowerCase(), unquote(pair[2]!.trim()));
  }
  return sections;
}

function unquote(value: string): string {
  const quoted = /^(['"])(.*)\1$/.exec(value);
  return quoted ? quoted[2]! : value;
}
