/**
 * The JavaScript a browser downloads before the first page shows: the entry script of the built
 * index.html and the chunks it preloads (pages loaded later, on navigation, are not counted).
 * `npm run web:size` prints it for web/dist; test/web/bundle-size.test.ts holds it to the budget.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const INITIAL_JS_BUDGET_GZIP = 150 * 1024;

export interface InitialJs {
  files: string[];
  bytes: number;
  gzipBytes: number;
}

export async function initialJs(buildDir: string): Promise<InitialJs> {
  const html = await readFile(path.join(buildDir, 'index.html'), 'utf8');
  const urls = [
    ...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g),
    ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g),
  ].map((match) => match[1]!);
  const files = urls.map((url) => url.replace(/^\/app\//, ''));
  let bytes = 0;
  let gzipBytes = 0;
  for (const file of files) {
    const content = await readFile(path.join(buildDir, file));
    bytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  return { files, bytes, gzipBytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../web/dist', import.meta.url));
  const size = await initialJs(dir);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  process.stdout.write(
    `initial JavaScript: ${size.files.join(', ')}\n  ${kb(size.bytes)} raw, ${kb(size.gzipBytes)} gzipped (budget ${kb(INITIAL_JS_BUDGET_GZIP)})\n`,
  );
}
