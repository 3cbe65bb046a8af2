import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('has working defaults for development', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 8000,
      host: '127.0.0.1',
      nodeEnv: 'development',
      migrateTenantsOnStart: 'background',
      logLevel: 'info',
      webConcurrency: 1,
      corsOrigins: [],
      // E-mail links open the web app this server serves (issue 18).
      appUrl: 'http://127.0.0.1:8000/app',
    });
    expect(loadConfig({ PORT: '9000', HOST: '0.0.0.0' }).appUrl).toBe('http://localhost:9000/app');
    expect(loadConfig({ NODE_ENV: 'production', CC_ADMIN_TOKEN: 'x'.repeat(16) }).appUrl).toBe(
      'http://localhost:3000',
    );
  });

  it('parses every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      TENANT_DATABASE_URLS: '{"eu2":"postgresql://u:p@eu2:5432/app"}',
      PORT: '9000',
      HOST: '0.0.0.0',
      CC_ADMIN_TOKEN: 'a-very-long-admin-token',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/',
      SMTP_URL: 'smtp://mail:25',
      MAIL_FROM: 'Tenantry <noreply@example.com>',
      APP_URL: 'https://app.example.com/',
      MIGRATE_TENANTS_ON_START: 'blocking',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      WEB_CONCURRENCY: '2',
      DATABASE_POOL_SIZE: '4',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://u:p@db:5432/app',
      tenantDatabaseUrls: { eu2: 'postgresql://u:p@eu2:5432/app' },
      port: 9000,
      host: '0.0.0.0',
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      smtpUrl: 'smtp://mail:25',
      appUrl: 'https://app.example.com',
      migrateTenantsOnStart: 'blocking',
      logLevel: 'warn',
      nodeEnv: 'production',
      webConcurrency: 2,
      databasePoolSize: 4,
    });
  });

  it('accepts a DATABASE_URL that points at a Unix socket folder (PostgreSQL on the same host)', () => {
    const url = 'postgres:///app?host=%2Frun%2Fpostgresql&port=5432&user=app&password=secret';
    expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ TENANT_DATABASE_URLS: '{not json' }, 'TENANT_DATABASE_URLS'],
    [{ TENANT_DATABASE_URLS: '["postgres://x"]' }, 'TENANT_DATABASE_URLS'],
    [{ TENANT_DATABASE_URLS: '{"default":"postgres://x/y"}' }, 'TENANT_DATABASE_URLS'],
    [{ TENANT_DATABASE_URLS: '{"eu2":"http://x"}' }, 'TENANT_DATABASE_URLS'],
    [{ MIGRATE_TENANTS_ON_START: 'sometimes' }, 'MIGRATE_TENANTS_ON_START'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ WEB_CONCURRENCY: '0' }, 'WEB_CONCURRENCY'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    [{ DATABASE_POOL_SIZE: 'many' }, 'DATABASE_POOL_SIZE'],
    [{ CC_ADMIN_TOKEN: 'short' }, 'CC_ADMIN_TOKEN'],
    [{ CORS_ORIGINS: 'not an origin' }, 'CORS_ORIGINS'],
    [{ SMTP_URL: 'mail.example.com' }, 'SMTP_URL'],
    [{ APP_URL: 'ftp://x' }, 'APP_URL'],
    [{ MAIL_FROM: 'nobody' }, 'MAIL_FROM'],
  ])('rejects %o naming %s', (env, variable) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable}`));
  });

  it('reports every bad variable at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y', NODE_ENV: 'z' })).toHaveLength(3);
  });
});

describe('TRUST_PROXY and UNVERIFIED_SIGNUP_HOURS (issue 14)', () => {
  it('are off / 7 days by default and parse a hop count or a list of addresses and CIDRs', () => {
    expect(loadConfig({})).toMatchObject({ trustProxy: false, unverifiedSignupHours: 168 });
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    expect(loadConfig({ UNVERIFIED_SIGNUP_HOURS: '24' }).unverifiedSignupHours).toBe(24);
  });

  it('refuses bad values naming the variable', () => {
    for (const bad of ['true', '11', 'proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/1', '::1/129']) {
      const problems = problemsOf({ TRUST_PROXY: bad });
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]).toMatch(/^TRUST_PROXY/);
    }
    expect(problemsOf({ UNVERIFIED_SIGNUP_HOURS: '0' })[0]).toMatch(/^UNVERIFIED_SIGNUP_HOURS="0"/);
  });
});
