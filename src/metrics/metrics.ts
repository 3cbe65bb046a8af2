/**
 * `GET /metrics`: Prometheus text exposition through prom-client (the library every Node exporter uses;
 * its histograms, registries and text format are not ours to re-invent).
 *
 * Enabled by METRICS_TOKEN (scrapers send `Authorization: Bearer <token>`); without it the route does not
 * exist. Each app has its own registry, so several apps in one process (tests) never share counters.
 * Request metrics are labelled by route template (`/tasks/:uuid`), never by raw URL: a label per task id
 * would grow Prometheus without bound. Database-side gauges are read when scraped, with one registry
 * query; a scrape while the database is down still answers, with `tenantry_registry_up 0`.
 *
 * With WEB_CONCURRENCY > 1 a scrape reaches one worker: its request counters are that worker's (the
 * `pid` label tells them apart); database-side gauges are the same from any worker.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { sql } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Core } from '../core.ts';
import { DEFAULT_HOST } from '../db/hosts.ts';
import { problems } from '../http/problem.ts';
import { queueStats } from '../jobs/admin.ts';
import type { RunObservation } from '../migrations/runner.ts';
import { bearerMatcher } from '../routes/cc/admin-auth.ts';

/** Seconds; from a cached read (~1 ms) to the 30 s request limit. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Tenants per host, status and migration status, and how many active ones are behind the code head: at
 * a known revision before it (or none yet) and not pinned there by a deliberate downgrade. A tenant at a
 * revision this code does not know is ahead of it, not behind.
 */
async function registryCounts(core: Core) {
  const { set } = core.tenantRunner;
  const beforeHead = set.migrations.slice(0, -1).map((m) => m.revision);
  const { rows } = await sql<{
    host: string;
    status: string;
    migration_status: string;
    n: number;
    behind: number;
  }>`
    SELECT host, status, migration_status, count(*)::int AS n,
           (count(*) FILTER (WHERE status = 'active' AND pinned_at IS NULL
                               AND (revision IS NULL OR revision = ANY(${beforeHead}::text[]))))::int AS behind
    FROM public.tenants GROUP BY host, status, migration_status`.execute(core.hosts.db(DEFAULT_HOST));
  return rows;
}

function metricsSet(core: Core) {
  const registry = new Registry();
  registry.setDefaultLabels({ pid: String(process.pid) });
  collectDefaultMetrics({ register: registry, prefix: 'tenantry_' });

  const httpDuration = new Histogram({
    name: 'tenantry_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status, with their duration',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'tenantry_rate_limit_refusals_total',
    help: 'Requests refused with 429 by a rate limit, by route template',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const loginFailures = new Counter({
    name: 'tenantry_login_failures_total',
    help: 'Sign-ins refused for wrong credentials (401 from POST /auth/login)',
    registers: [registry],
  });
  const shed = new Counter({
    name: 'tenantry_http_shed_total',
    help: 'Requests answered 503 (overload, database unavailable), by route template',
    labelNames: ['route'] as const,
    registers: [registry],
  });

  new Gauge({
    name: 'tenantry_db_pool_connections',
    help: 'Pooled connections of this process per database host: total, idle, and requests waiting for one',
    labelNames: ['host', 'state'] as const,
    registers: [registry],
    collect() {
      for (const host of core.hosts.names()) {
        const pool = core.hosts.pool(host);
        this.set({ host, state: 'total' }, pool.totalCount);
        this.set({ host, state: 'idle' }, pool.idleCount);
        this.set({ host, state: 'waiting' }, pool.waitingCount);
      }
    },
  });

  // prom-client collects all metrics of a scrape at once (Promise.all), so the four registry gauges
  // share one read per scrape: the first to be collected starts it, the others await the same promise.
  let reading: Promise<void> | undefined;
  const readRegistry = () => {
    reading ??= refreshRegistryGauges().finally(() => {
      reading = undefined;
    });
    return reading;
  };
  const registryGauge = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect: readRegistry });
  const registryUp = registryGauge(
    'tenantry_registry_up',
    '1 when the last scrape could read the tenant registry, 0 when the default host did not answer',
  );
  const tenants = registryGauge(
    'tenantry_tenants',
    'Tenants per database host, lifecycle status and migration status',
    ['host', 'status', 'migration_status'],
  );
  const behind = registryGauge(
    'tenantry_tenants_behind_head',
    'Active tenants at a revision before the code head and not pinned there, per database host',
    ['host'],
  );
  const scrapeSeconds = registryGauge(
    'tenantry_registry_scrape_seconds',
    'Time the last scrape spent reading the tenant registry',
  );
  const jobs = registryGauge(
    'tenantry_jobs',
    'Jobs of the queue: pending (due or scheduled), running, failed for good (attempts used up)',
    ['state'],
  );
  const oldestPending = registryGauge(
    'tenantry_jobs_oldest_pending_age_seconds',
    'How long the oldest due job has waited (0 when none is due): a stalled or too small runner',
  );
  async function refreshQueueGauges(): Promise<void> {
    // A database without the queue's schema yet (public migrations not run) leaves these unset.
    const stats = await queueStats(core.hosts.db(DEFAULT_HOST)).catch(() => undefined);
    if (!stats) return;
    jobs.set({ state: 'pending' }, stats.pending);
    jobs.set({ state: 'running' }, stats.running);
    jobs.set({ state: 'failed' }, stats.failed);
    oldestPending.set(stats.oldest_pending_age_s ?? 0);
  }
  async function refreshRegistryGauges(): Promise<void> {
    const started = performance.now();
    await refreshQueueGauges();
    try {
      const rows = await registryCounts(core);
      tenants.reset();
      behind.reset();
      const behindPerHost = new Map<string, number>();
      for (const row of rows) {
        tenants.set({ host: row.host, status: row.status, migration_status: row.migration_status }, row.n);
        behindPerHost.set(row.host, (behindPerHost.get(row.host) ?? 0) + row.behind);
      }
      for (const [host, count] of behindPerHost) behind.set({ host }, count);
      registryUp.set(1);
    } catch {
      registryUp.set(0);
    }
    scrapeSeconds.set((performance.now() - started) / 1000);
  }

  const migrationDuration = new Histogram({
    name: 'tenantry_migration_duration_seconds',
    help: 'Migration runs of this process (on demand, fleet jobs, creation) by set, direction and outcome',
    labelNames: ['set', 'direction', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const observeRun = (run: RunObservation) => {
    if (run.dryRun) return;
    migrationDuration.observe({ set: run.set, direction: run.direction, outcome: run.outcome }, run.seconds);
  };
  const stopObserving = [core.tenantRunner.observe(observeRun), core.publicRunner.observe(observeRun)];
  const close = () => {
    for (const stop of stopObserving) stop();
  };

  return { registry, httpDuration, rateLimited, loginFailures, shed, close };
}

/** The route template a request matched, or a fixed label for requests that matched none. */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

export const metricsPlugin = fp(
  async (app: FastifyInstance, options: { core: Core; token: string | undefined }) => {
    const { token } = options;
    if (!token) return;
    const set = metricsSet(options.core);
    app.addHook('onClose', async () => set.close());

    app.addHook('onResponse', async (request, reply) => {
      const route = routeOf(request);
      const status = reply.statusCode;
      set.httpDuration.observe(
        { method: request.method, route, status: String(status) },
        reply.elapsedTime / 1000,
      );
      if (status === 429) set.rateLimited.inc({ route });
      if (status === 503) set.shed.inc({ route });
      if (status === 401 && route === '/auth/login') set.loginFailures.inc();
    });

    const matches = bearerMatcher(token);
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          tags: ['operations'],
          hide: true,
        },
      },
      async (request, reply) => {
        if (!matches(request.headers.authorization)) {
          throw problems.unauthorized('A valid metrics token is required (METRICS_TOKEN)');
        }
        const text = await set.registry.metrics();
        return reply.type(set.registry.contentType).send(text);
      },
    );
  },
  { name: 'tenantry-metrics' },
);
