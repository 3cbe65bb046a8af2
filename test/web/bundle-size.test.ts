/**
 * The web app's first download stays small (issue 18: initial JavaScript ≤ 150 KB gzipped): every page
 * but sign-in is split into its own chunk, loaded on navigation. Measured on a production build.
 */
import { expect, it } from 'vitest';
import { INITIAL_JS_BUDGET_GZIP, initialJs } from '../../scripts/web-size.ts';
import { builtWebApp } from './browser.ts';

it('initial JavaScript is at most 150 KB gzipped', async () => {
  const size = await initialJs(await builtWebApp());
  expect(size.files.length).toBeGreaterThan(0);
  expect(size.gzipBytes).toBeGreaterThan(10_000);
  expect(size.gzipBytes).toBeLessThanOrEqual(INITIAL_JS_BUDGET_GZIP);
}, 300_000);
