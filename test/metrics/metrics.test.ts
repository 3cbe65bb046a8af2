/**
 * GET /metrics (issue 20): Prometheus text behind its own token, request metrics by route template, and
 * gauges read from the pools and the tenant registry when scraped.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { accountsApp, PASSWORD } from '../accounts/helpers.ts';
import { testApp } from '../helpers/core.ts';
import { tenantWithUsers } from '../helpers/tenant-users.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const SCRAPE = { authorization: `Bearer ${METRICS_TOKEN}` };

/** The value of one sample line, e.g. `tenantry_tenants{host="default",…}`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('GET /metrics', () => {
  it('does not exist without METRICS_TOKEN', async () => {
    const app = await testApp();
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: SCRAPE })).statusCode).toBe(404);
  });

  it('refuses a scrape without the token, as problem+json', async () => {
    const app = await testApp({ env: { METRICS_TOKEN } });
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }]) {
      const response = await app.inject({ method: 'GET', url: '/metrics', headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
  });

  it('counts requests by route template, login failures, and reads tenants and pools', async () => {
    const context = await accountsApp({ env: { METRICS_TOKEN } });
    const { app } = context;
    const { tenant, owner } = await tenantWithUsers(context);
    const list = await app.inject({
      method: 'POST',
      url: '/lists/',
      headers: owner.headers,
      payload: { name: 'L' },
    });
    expect(list.statusCode, list.body).toBe(201);
    for (let i = 0; i < 3; i++) {
      const task = await app.inject({
        method: 'POST',
        url: '/tasks/',
        headers: owner.headers,
        payload: { title: `t${i}` },
      });
      expect(task.statusCode, task.body).toBe(201);
      const read = await app.inject({
        method: 'GET',
        url: `/tasks/${task.json().uuid}`,
        headers: owner.headers,
      });
      expect(read.statusCode).toBe(200);
    }
    const wrong = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { tenant },
      payload: { email: owner.email, password: `${PASSWORD}-not` },
    });
    expect(wrong.statusCode).toBe(401);

    const scrape = await app.inject({ method: 'GET', url: '/metrics', headers: SCRAPE });
    expect(scrape.statusCode).toBe(200);
    expect(scrape.headers['content-type']).toContain('text/plain');
    const text = scrape.body;
    // Route templates, never raw ids.
    expect(
      sample(text, 'tenantry_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/tasks/:uuid',
        status: '200',
      }),
    ).toBe(3);
    expect(text).not.toMatch(/route="\/tasks\/[0-9a-f]{8}-/);
    expect(sample(text, 'tenantry_login_failures_total', {})).toBe(1);
    expect(sample(text, 'tenantry_registry_up', {})).toBe(1);
    expect(
      sample(text, 'tenantry_tenants', { host: 'default', status: 'active', migration_status: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tenantry_tenants_behind_head', { host: 'default' })).toBe(0);
    expect(sample(text, 'tenantry_db_pool_connections', { host: 'default', state: 'total' })).toBeGreaterThan(
      0,
    );
    expect(text).toContain('tenantry_process_resident_memory_bytes');
    // The sign-up created a tenant schema: one applied upgrade of the tenant set, timed.
    expect(
      sample(text, 'tenantry_migration_duration_seconds_count', {
        set: 'tenant',
        direction: 'upgrade',
        outcome: 'applied',
      }),
    ).toBeGreaterThanOrEqual(1);
    for (const state of ['pending', 'running', 'failed']) {
      expect(sample(text, 'tenantry_jobs', { state })).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'tenantry_jobs_oldest_pending_age_seconds', {})).toBeGreaterThanOrEqual(0);
  });

  it('counts as behind head only tenants at a known earlier revision that are not pinned', async () => {
    const context = await accountsApp({ env: { METRICS_TOKEN } });
    const { app } = context;
    const { tenant } = await tenantWithUsers(context);
    const db = app.core.hosts.db('default');
    const { set } = app.core.tenantRunner;
    const behindNow = async () =>
      sample(
        (await app.inject({ method: 'GET', url: '/metrics', headers: SCRAPE })).body,
        'tenantry_tenants_behind_head',
        { host: 'default' },
      );
    const record = (revision: string | null, pinned: boolean) =>
      sql`UPDATE public.tenants SET revision = ${revision}, pinned_at = ${pinned ? sql`now()` : null}
          WHERE tenant_id = ${tenant}`.execute(db);
    const before = await behindNow();
    try {
      await record(set.migrations[0]!.revision, false);
      expect(await behindNow()).toBe(before! + 1);
      await record(set.migrations[0]!.revision, true); // downgraded on purpose
      expect(await behindNow()).toBe(before);
      await record('ffffffffffff', false); // ahead of this code
      expect(await behindNow()).toBe(before);
    } finally {
      await record(set.head, false);
    }
  });

  it('still answers while the registry cannot be read, saying so', async () => {
    const app = await testApp({
      env: { METRICS_TOKEN },
      defaultDatabaseUrl: 'postgres://nobody:x@127.0.0.1:1/none',
    });
    const scrape = await app.inject({ method: 'GET', url: '/metrics', headers: SCRAPE });
    expect(scrape.statusCode).toBe(200);
    expect(sample(scrape.body, 'tenantry_registry_up', {})).toBe(0);
  });
});

describe('docs/operations.md and the Grafana dashboard', () => {
  it('query only metrics the server exports', async () => {
    const context = await accountsApp({ env: { METRICS_TOKEN } });
    await tenantWithUsers(context);
    const exported = new Set(
      (await context.app.inject({ method: 'GET', url: '/metrics', headers: SCRAPE })).body
        .split('\n')
        .filter((line) => line.startsWith('# TYPE '))
        .flatMap((line) => {
          const [, , name, type] = line.split(' ');
          return type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name!];
        }),
    );
    const docs = [
      readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8'),
      readFileSync(new URL('../../docs/grafana/tenantry-dashboard.json', import.meta.url), 'utf8'),
    ].join('\n');
    const used = new Set(docs.match(/\btenantry_[a-z_]+/g));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exported, `${name} is not exported`).toContain(name);
  });
});
