/**
 * The web app's API types (web/src/api/schema.d.ts) are generated from the server's OpenAPI document;
 * this fails when a route or schema changed and the checked-in file was not regenerated, so the UI and
 * the API cannot drift apart unnoticed. Fix: `npm run api:generate`, then `npm run typecheck` shows the
 * pages the change breaks.
 */
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { apiSchemaSource, SCHEMA_FILE } from '../../scripts/api-schema.ts';

it('web/src/api/schema.d.ts matches a fresh generation from the OpenAPI document', async () => {
  const [current, fresh] = await Promise.all([readFile(SCHEMA_FILE, 'utf8'), apiSchemaSource()]);
  expect(fresh).toContain('"/tasks/{uuid}"');
  expect(current === fresh, 'web/src/api/schema.d.ts is out of date: run `npm run api:generate`').toBe(true);
  // Building the whole app for its OpenAPI document takes 9 s alone, over 30 s beside the browser tests.
}, 120_000);
