/** SHA-256 of backup archives, and the `sha256sum`-compatible checksum file (`sha256sum -c` works on it). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export const checksumFileText = (sha256: string, object: string): string => `${sha256}  ${object}\n`;

/** The hex digest in a checksum file, or undefined when the text is not one. */
export function parseChecksumFile(text: string): string | undefined {
  return /^([0-9a-f]{64})\s/.exec(`${text.trim()}\n`)?.[1];
}

/** Every `<digest>  <name>` line of a checksum file (a backup cut into parts lists each of them). */
export function parseChecksumLines(text: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const line of text.split('\n')) {
    const found = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (found) lines.set(found[2]!, found[1]!);
  }
  return lines;
}
