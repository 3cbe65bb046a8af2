/**
 * What the browser tests share: the built web app, a real server (buildApp().listen on 127.0.0.1 with
 * the per-file embedded-PostgreSQL database), Debian's Chromium driven by playwright-core, axe-core and
 * screenshots.
 *
 * The web app is built once per content of web/ into node_modules/.cache/tenantry-web/<hash> (CI runs
 * the tests without `npm run build`; a second run, or a second file, reuses the build).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { type App, buildApp } from '../../src/app.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { testCore } from '../helpers/core.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = path.join(ROOT, 'web');
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'tenantry-web');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where each run saves its screenshots; UPDATE_SCREENSHOTS=1 also refreshes docs/screenshots/. */
const SHOTS = path.join(ROOT, 'reports', 'screenshots');
const DOC_SHOTS = path.join(ROOT, 'docs', 'screenshots');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries
      .filter((entry) => entry.name !== 'dist' && entry.name !== 'node_modules')
      .map((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? sourceFiles(full) : [full];
      }),
  );
  return files.flat().sort();
}

/** The folder of a production build of the current web/ sources. */
export async function builtWebApp(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await sourceFiles(WEB)) hash.update(file).update(await readFile(file));
  const target = path.join(CACHE, hash.digest('hex').slice(0, 16));
  if (existsSync(path.join(target, 'index.html'))) return target;
  await mkdir(CACHE, { recursive: true });
  const staging = await mkdtemp(path.join(CACHE, 'build-'));
  const { build } = await import('vite');
  await build({
    root: WEB,
    configFile: path.join(WEB, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: staging, emptyOutDir: true },
    // Vitest sets NODE_ENV=test, which would give Vue's development build (62 KB gzipped, not 44 KB):
    // test and measure what `npm run build` ships.
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  });
  // Two files building at once: the first rename wins, the other build is dropped.
  await rename(staging, target).catch(() => rm(staging, { recursive: true, force: true }));
  // Builds of earlier sources are not needed again.
  for (const entry of await readdir(CACHE)) {
    if (entry !== path.basename(target) && !entry.startsWith('build-'))
      await rm(path.join(CACHE, entry), { recursive: true, force: true });
  }
  return target;
}

export interface WebServer {
  app: App;
  base: string;
  outbox: string;
  /** The `{APP_URL}` of e-mail links; `link()` turns such a link into one on this server. */
  appUrl: string;
  link(url: string): string;
}

export async function startServer(): Promise<WebServer> {
  const [webRoot, dataDir] = await Promise.all([
    builtWebApp(),
    mkdtemp(path.join(tmpdir(), 'tenantry-web-e2e-')),
  ]);
  onFileEnd(() => rm(dataDir, { recursive: true, force: true }));
  const appUrl = 'https://todo.example.com/app';
  const core = await testCore({ env: { DATA_DIR: dataDir, APP_URL: appUrl } });
  const app = await buildApp(core, {
    logger: false,
    webRoot,
    pressure: { maxEventLoopDelay: 0, maxEventLoopUtilization: 0 },
  });
  onFileEnd(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    base,
    outbox: path.join(dataDir, 'outbox'),
    appUrl,
    link: (url) => {
      expect(url.startsWith(`${appUrl}/`), url).toBe(true);
      return `${base}/app/${url.slice(appUrl.length + 1)}`;
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root (CI containers) cannot use Chromium's sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  onFileEnd(() => browser.close());
  return browser;
}

/** A fresh browser context (its own storage: a second person or device) at a desktop or phone size. */
export async function newPage(
  browser: Browser,
  width = 1280,
  height = 900,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width, height },
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

/** The page fits the viewport's width: nothing needs sideways scrolling (checked at 375 px). */
export async function expectNoSidewaysScroll(page: Page) {
  const width = page.viewportSize()?.width ?? 0;
  const scrollWidth = await page.evaluate<number>('document.documentElement.scrollWidth');
  expect(scrollWidth, `width of ${page.url()}`).toBeLessThanOrEqual(width);
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core in the page: no serious or critical violation. */
export async function expectAccessible(page: Page, name: string) {
  if (!(await page.evaluate<boolean>("'axe' in window"))) await page.addScriptTag({ path: AXE });
  // A string, not a function: this file is compiled without the DOM's types.
  const violations = await page.evaluate<
    string[]
  >(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
    result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => violation.impact + ' ' + violation.id + ': ' + violation.help + ' at ' +
        violation.nodes.map((node) => node.target.join(' ')).join(', ')))`);
  expect(violations, `axe on ${name}`).toEqual([]);
}

export async function screenshot(page: Page, name: string) {
  await mkdir(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(DOC_SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(DOC_SHOTS, `${name}.png`), fullPage: true });
  }
}
