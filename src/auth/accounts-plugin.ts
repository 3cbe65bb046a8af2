/**
 * The account machinery, built once per app and shared by every route area (`app.accounts`): password
 * hashing, the e-mail outbox (`app.jobs.mail`, src/jobs/), rate limits, the directory, background tasks, the account flows; plus the
 * request decorations of the auth guard (`request.user`, …) and the tenant route table.
 *
 * Register it after `tenancyPlugin` (it uses the registry cache and the on-demand upgrader) and before
 * any `withAuth` area.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DEFAULT_HOST } from '../db/hosts.ts';
import type { MailQueue } from '../jobs/mail-jobs.ts';
import { type AccountCleanupReport, cleanUpAccounts } from './account-cleanup.ts';
import { AccountService } from './account-service.ts';
import { decorateAuth } from './auth-plugin.ts';
import { BackgroundTasks } from './background.ts';
import { DirectoryWork } from './directory.ts';
import { PasswordHasher } from './passwords.ts';
import { PrincipalCache } from './principal-cache.ts';
import { type AccountRateLimits, DEFAULT_RATE_LIMITS, RateLimiter } from './rate-limit.ts';
import { openTenant } from './tenant-lookup.ts';

export interface Accounts {
  service: AccountService;
  hasher: PasswordHasher;
  mail: MailQueue;
  directory: DirectoryWork;
  limiter: RateLimiter;
  /** The budgets in force; mutable so a test can tighten one without rebuilding the app. */
  limits: AccountRateLimits;
  background: BackgroundTasks;
  /** Principals of sessions in memory, invalidated through NOTIFY (src/auth/principal-cache.ts). */
  principals: PrincipalCache;
  /** One pass of the scheduled clean-up (expired sign-ups, ended rate-limit windows; cron job). */
  cleanUp: () => Promise<AccountCleanupReport>;
}

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts;
  }
}

export const accountsPlugin = fp(
  async (app: FastifyInstance) => {
    const { core } = app;
    // Cheap argon2 parameters only under NODE_ENV=test (src/auth/passwords.ts).
    const hasher = new PasswordHasher(core.config.nodeEnv === 'test' ? 'test' : 'default');
    const mail = app.jobs.mail;
    const directory = new DirectoryWork(core.hosts);
    const publicDb = core.hosts.db(DEFAULT_HOST);
    const limiter = new RateLimiter(publicDb);
    const limits = structuredClone(DEFAULT_RATE_LIMITS);
    const background = new BackgroundTasks(app.log);
    const principals = new PrincipalCache(
      app.registryCache,
      core.hosts,
      { maxEntries: core.config.principalCacheMax, ttlMs: core.config.principalCacheTtlMs },
      app.log,
    );
    const service = new AccountService({
      config: core.config,
      tenants: core.tenants,
      registry: core.registry,
      publicDb,
      onTenantCreated: async (tenantId) => {
        const row = await core.registry.find(tenantId);
        if (row) app.registryCache.put(row);
      },
      openTenant: (tenantId, client) => openTenant(app, tenantId, client.host),
      directory,
      hasher,
      mail,
      limiter,
      limits,
      background,
    });
    const cleanUp = () =>
      cleanUpAccounts({
        db: publicDb,
        tenants: core.tenants,
        limiter,
        unverifiedSignupHours: core.config.unverifiedSignupHours,
        onTenantDeleted: (tenantId) => app.registryCache.invalidate(tenantId),
      });
    app.decorate('accounts', {
      service,
      hasher,
      mail,
      directory,
      limiter,
      limits,
      background,
      principals,
      cleanUp,
    });
    decorateAuth(app);
    // The clean-up runs as the job queue's `account-cleanup` cron task: once per schedule across all
    // processes (src/jobs/schedules.ts).
    app.addHook('onReady', async () => {
      principals.start();
    });
    app.addHook('onClose', async () => {
      await background.settle();
      await principals.close();
    });
  },
  { name: 'tenantry-accounts', fastify: '5.x', dependencies: ['tenantry-tenancy', 'tenantry-jobs'] },
);
