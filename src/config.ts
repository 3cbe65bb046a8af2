/**
 * Configuration: every environment variable of SPEC section 9, parsed and validated once.
 *
 * Nothing in the code base reads `process.env` except `loadConfig`'s caller (server, CLI, bench), so
 * tests build a Config from a plain object and need no module mocks. A bad value stops the start with a
 * message naming the variable and the form it expects; all problems are reported at once.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseDotenv } from 'dotenv';
import { baseDomainProblem } from './tenancy/domain-name.ts';
import { PLACEMENT_POLICIES, type PlacementPolicy } from './tenancy/placement.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type NodeEnv = 'development' | 'production' | 'test';
export type MigrateOnStart = 'off' | 'background' | 'blocking';

export interface Config {
  /** Connection string of the default host; undefined → embedded PostgreSQL. */
  databaseUrl: string | undefined;
  /** Extra database hosts by name (SPEC 7). Never contains `default`. */
  tenantDatabaseUrls: Record<string, string>;
  /** Where a tenant created without a named host goes (src/tenancy/placement.ts). */
  tenantPlacement: PlacementPolicy;
  port: number;
  host: string;
  /** undefined → generated at start in development, /cc disabled in production. */
  ccAdminToken: string | undefined;
  /** Bearer token of `GET /metrics`; undefined → no metrics route. */
  metricsToken: string | undefined;
  /** Allowed CORS origins; `['*']` allows any, `[]` disables CORS headers. */
  corsOrigins: string[];
  smtpUrl: string | undefined;
  mailFrom: string;
  appUrl: string;
  migrateTenantsOnStart: MigrateOnStart;
  logLevel: LogLevel;
  nodeEnv: NodeEnv;
  webConcurrency: number;
  /** Connections per database host and process (each worker has its own pools). */
  databasePoolSize: number;
  /** Longest wait (ms) for a pooled connection (or a new one) before answering 503 + Retry-After. */
  databasePoolWaitMs: number;
  /** Requests that may wait for a connection of one pool; past it, 503 + Retry-After at once. */
  databasePoolQueue: number;
  /**
   * Bounds of one pooled connection's PostgreSQL memory (BENCHMARKS.md "PostgreSQL memory"): named
   * prepared statements kept on it (least recently used deallocated past it; 0: none), and its lifetime
   * in seconds and in tenant schemas served (0: unbounded) — replacing the backend frees its catalog caches.
   */
  databaseStatementsPerConnection: number;
  databaseConnectionLifetimeS: number;
  databaseTenantsPerConnection: number;
  /** Folder for local state (embedded PostgreSQL data, mail outbox). */
  dataDir: string;
  /**
   * Normalised parent of tenant subdomains (`tasks.example.com`): a bare label `acme` given as a tenant
   * domain means `acme.tasks.example.com`. undefined → a bare label stays a single-label domain.
   */
  tenantBaseDomain: string | undefined;
  /**
   * Fastify's `trustProxy` (TRUST_PROXY): `false` (default) uses the socket's address as the client's;
   * a hop count or a list of proxy addresses/CIDRs reads it from `X-Forwarded-For` through those proxies.
   */
  trustProxy: false | number | string[];
  /** Sign-ups whose owner has not verified the e-mail within this many hours are deleted (default 7 days). */
  unverifiedSignupHours: number;
  /**
   * Seconds a cross-host creation or deletion may stay unfinished before reconciliation (at start, then
   * every `reconcileIntervalS`) finishes or undoes it (src/tenancy/reconciler.ts).
   */
  reconcileAfterS: number;
  reconcileIntervalS: number;
  /** Background jobs run at once by this process; 0 = this process only enqueues (src/jobs/). */
  jobsConcurrency: number;
  /** How often the job runner looks for jobs scheduled later (retries); new jobs wake it at once. */
  jobsPollIntervalMs: number;
  /** Job worker heartbeat; jobs of a process silent for 3 beats are released to the others. */
  jobsHeartbeatMs: number;
  /** Attempts of an e-mail before it is left as a failed job (back-off e^attempt seconds). */
  mailMaxAttempts: number;
  /** Sessions whose principal is kept in memory per process (src/auth/principal-cache.ts); 0 disables. */
  principalCacheMax: number;
  /** Longest life (ms) of a cached principal; changes reach every process at once through NOTIFY anyway. */
  principalCacheTtlMs: number;
  /** Warm tenant schemas kept ready on the default host (src/tenancy/schema-pool.ts); 0 disables it. */
  schemaPoolSize: number;
  /** Days the change feed keeps its events (FEED_RETENTION_DAYS, default 30); older cursors get 410. */
  feedRetentionDays: number;
  /** WEBHOOK_ALLOW_PRIVATE=true lets webhooks reach loopback, private and link-local addresses (tests). */
  webhookAllowPrivate: boolean;
  /** First retry delay of a failed webhook delivery; it doubles per attempt, capped at an hour. */
  webhookRetryFirstMs: number;
  /** A webhook still failing this long after its first failure is disabled and its owners mailed. */
  webhookGiveUpS: number;
  /** Milliseconds a webhook receiver has to answer (WEBHOOK_TIMEOUT_MS, default 10 s). */
  webhookTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NODE_ENVS: readonly NodeEnv[] = ['development', 'production', 'test'];
const MIGRATE_MODES: readonly MigrateOnStart[] = ['off', 'background', 'blocking'];
const HOST_NAME = /^[a-z][a-z0-9_]{0,31}$/;

type Env = Record<string, string | undefined>;

/** Reads `.env` in `cwd` (if present) beneath the real environment: real variables win, as with dotenv. */
export function environmentWithDotenv(env: Env = process.env, dotenvPath = '.env'): Env {
  let fileValues: Record<string, string> = {};
  try {
    fileValues = parseDotenv(readFileSync(dotenvPath));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { ...fileValues, ...env };
}

export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };

  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(', ')}`);
    return fallback;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(raw);
  };

  const url = (name: string, protocols: string[], fallback?: string): string | undefined => {
    const raw = value(name) ?? fallback;
    if (raw === undefined) return undefined;
    if (!isUrl(raw, protocols)) {
      problems.push(`${name}: expected a ${protocols.map((p) => `${p}//…`).join(' or ')} URL`);
      return undefined;
    }
    return raw;
  };

  const nodeEnv = oneOf('NODE_ENV', NODE_ENVS, 'development');
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const tenantDatabaseUrls = parseHostMap(value('TENANT_DATABASE_URLS'), problems);
  const tenantPlacement = oneOf('TENANT_PLACEMENT', PLACEMENT_POLICIES, 'default');
  const port = integer('PORT', 8000, 0, 65535);
  const host = value('HOST') ?? (nodeEnv === 'production' ? '0.0.0.0' : '127.0.0.1');

  const ccAdminToken = value('CC_ADMIN_TOKEN');
  if (ccAdminToken !== undefined && ccAdminToken.length < 16) {
    problems.push('CC_ADMIN_TOKEN: expected at least 16 characters (use a long random secret)');
  }

  const metricsToken = value('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    problems.push('METRICS_TOKEN: expected at least 16 characters (use a long random secret)');
  }

  const corsOrigins = parseCorsOrigins(value('CORS_ORIGINS'), problems);
  const smtpUrl = url('SMTP_URL', ['smtp:', 'smtps:']);
  const mailFrom = value('MAIL_FROM') ?? 'Tenantry <no-reply@localhost>';
  if (!/@/.test(mailFrom))
    problems.push('MAIL_FROM: expected an e-mail address, e.g. "Tenantry <no-reply@example.com>"');
  // Development: e-mail links open the web app this server serves under /app/ (src/http/web-app.ts).
  const appUrlDefault =
    nodeEnv === 'development'
      ? `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}/app`
      : 'http://localhost:3000';
  const appUrl = (url('APP_URL', ['http:', 'https:'], appUrlDefault) ?? '').replace(/\/+$/, '');
  const migrateTenantsOnStart = oneOf('MIGRATE_TENANTS_ON_START', MIGRATE_MODES, 'background');
  const logLevel = oneOf('LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'silent' : 'info');
  const webConcurrency = integer('WEB_CONCURRENCY', 1, 1, 64);
  const databasePoolSize = integer('DATABASE_POOL_SIZE', 10, 1, 200);
  // Bounds measured in BENCHMARKS.md ("Overload"): past them a request is refused at once instead of
  // queueing without bound (issue 14: p99 2.2 s and 649 MB at `ab -c 5000` before).
  const databasePoolWaitMs = integer('DATABASE_POOL_WAIT_MS', 500, 10, 60_000);
  const databasePoolQueue = integer('DATABASE_POOL_QUEUE', 50, 0, 100_000);
  const databaseStatementsPerConnection = integer('DATABASE_STATEMENTS_PER_CONNECTION', 100, 0, 10_000);
  const databaseConnectionLifetimeS = integer('DATABASE_CONNECTION_LIFETIME_S', 600, 0, 86_400);
  const databaseTenantsPerConnection = integer('DATABASE_TENANTS_PER_CONNECTION', 30, 0, 100_000);
  const dataDir = value('DATA_DIR') ?? '.data';
  const tenantBaseDomain = baseDomain(value('TENANT_BASE_DOMAIN'), problems);
  const trustProxy = parseTrustProxy(value('TRUST_PROXY'), problems);
  const unverifiedSignupHours = integer('UNVERIFIED_SIGNUP_HOURS', 7 * 24, 1, 24 * 365);
  const reconcileAfterS = integer('RECONCILE_AFTER_S', 300, 0, 86_400);
  const reconcileIntervalS = integer('RECONCILE_INTERVAL_S', 60, 1, 86_400);
  const jobsConcurrency = integer('JOBS_CONCURRENCY', 4, 0, 64);
  const jobsPollIntervalMs = integer('JOBS_POLL_INTERVAL_MS', 2_000, 50, 600_000);
  const jobsHeartbeatMs = integer('JOBS_HEARTBEAT_MS', 5_000, 100, 600_000);
  const mailMaxAttempts = integer('MAIL_MAX_ATTEMPTS', 12, 1, 100);
  const principalCacheMax = integer('PRINCIPAL_CACHE_MAX', 10_000, 0, 1_000_000);
  const principalCacheTtlMs = integer('PRINCIPAL_CACHE_TTL_MS', 30_000, 100, 3_600_000);
  const schemaPoolSize = integer('SCHEMA_POOL_SIZE', 5, 0, 100);
  const feedRetentionDays = integer('FEED_RETENTION_DAYS', 30, 1, 3650);
  const webhookAllowPrivate = oneOf('WEBHOOK_ALLOW_PRIVATE', ['true', 'false'], 'false') === 'true';
  const webhookRetryFirstMs = integer('WEBHOOK_RETRY_FIRST_MS', 10_000, 10, 3_600_000);
  const webhookGiveUpS = integer('WEBHOOK_GIVE_UP_S', 86_400, 1, 30 * 86_400);
  const webhookTimeoutMs = integer('WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    databaseUrl,
    tenantDatabaseUrls,
    tenantPlacement,
    port,
    host,
    ccAdminToken,
    metricsToken,
    corsOrigins,
    smtpUrl,
    mailFrom,
    appUrl,
    migrateTenantsOnStart,
    logLevel,
    nodeEnv,
    webConcurrency,
    databasePoolSize,
    databasePoolWaitMs,
    databasePoolQueue,
    databaseStatementsPerConnection,
    databaseConnectionLifetimeS,
    databaseTenantsPerConnection,
    dataDir,
    tenantBaseDomain,
    trustProxy,
    unverifiedSignupHours,
    reconcileAfterS,
    reconcileIntervalS,
    jobsConcurrency,
    jobsPollIntervalMs,
    jobsHeartbeatMs,
    mailMaxAttempts,
    principalCacheMax,
    principalCacheTtlMs,
    schemaPoolSize,
    feedRetentionDays,
    webhookAllowPrivate,
    webhookRetryFirstMs,
    webhookGiveUpS,
    webhookTimeoutMs,
  };
}

function baseDomain(raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined) return undefined;
  const checked = baseDomainProblem(raw);
  if ('domain' in checked) return checked.domain;
  problems.push(
    `TENANT_BASE_DOMAIN=${JSON.stringify(raw)}: expected a domain like tasks.example.com (${checked.problem})`,
  );
  return undefined;
}

function isUrl(raw: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(raw).protocol);
  } catch {
    return false;
  }
}

function parseHostMap(raw: string | undefined, problems: string[]): Record<string, string> {
  if (raw === undefined) return {};
  const expected =
    'TENANT_DATABASE_URLS: expected a JSON object like {"eu2": "postgres://user:pass@host:5432/db"}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push(`${expected} (it is not valid JSON)`);
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(expected);
    return {};
  }
  const hosts: Record<string, string> = {};
  for (const [name, target] of Object.entries(parsed)) {
    if (!HOST_NAME.test(name) || name === 'default') {
      problems.push(
        `TENANT_DATABASE_URLS: host name ${JSON.stringify(name)} must match ${HOST_NAME} and not be "default"`,
      );
    } else if (typeof target !== 'string' || !isUrl(target, ['postgres:', 'postgresql:'])) {
      problems.push(`TENANT_DATABASE_URLS: host ${JSON.stringify(name)} needs a postgres://… URL`);
    } else {
      hosts[name] = target;
    }
  }
  return hosts;
}

function parseCorsOrigins(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return [];
  const origins = raw
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    if (origin !== '*' && !isUrl(origin, ['http:', 'https:'])) {
      problems.push(
        `CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin; expected comma-separated http(s)://host[:port] or *`,
      );
    }
  }
  return origins;
}

/**
 * The value for Fastify's `trustProxy`. A hop count becomes the function Fastify builds for a number
 * itself (trust the nearest `hops` addresses), because Fastify's types do not list the number form.
 */
export function fastifyTrustProxy(
  value: Config['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

/** proxy-addr's named ranges, accepted in TRUST_PROXY lists like addresses. */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY: unset/`false` → the socket address; `1`…`10` → that many proxy hops; otherwise a
 * comma-separated list of addresses, CIDRs or proxy-addr's named ranges. `true` (trust any sender of
 * X-Forwarded-For) is refused: any client could then choose the address the rate limits count.
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string[] {
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (/^\d+$/.test(raw)) {
    if (Number(raw) <= 10) return Number(raw);
    problems.push(`TRUST_PROXY=${JSON.stringify(raw)}: a hop count is expected from 0 to 10`);
    return false;
  }
  if (raw === 'true') {
    problems.push(
      'TRUST_PROXY="true": trusting every sender lets clients choose their address; give the number of proxies in front of the server or their addresses (e.g. 1 or 10.0.0.0/8,127.0.0.1)',
    );
    return false;
  }
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    if (!isProxyAddress(entry)) {
      problems.push(
        `TRUST_PROXY: ${JSON.stringify(entry)} is not an address, a CIDR (10.0.0.0/8) or one of ${PROXY_RANGES.join(', ')}; expected a hop count or a comma-separated list`,
      );
    }
  }
  return entries;
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true;
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
