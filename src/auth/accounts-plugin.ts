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
import type { MailQueue } from '../jobs/mail-jobs.ts';
import { AccountService } from './account-service.ts';
import { decorateAuth } from './auth-plugin.ts';
import { BackgroundTasks } from './background.ts';
import { DirectoryWork } from './directory.ts';
import { PasswordHasher } from './passwords.ts';
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
    const limiter = new RateLimiter();
    const limits = structuredClone(DEFAULT_RATE_LIMITS);
    const background = new BackgroundTasks(app.log);
    const service = new AccountService({
      config: core.config,
      tenants: core.tenants,
      onTenantCreated: async (tenantId) => {
        const row = await core.registry.find(tenantId);
        if (row) app.registryCache.put(row);
      },
      openTenant: (tenantId) => openTenant(app, tenantId),
      directory,
      hasher,
      mail,
      limiter,
      limits,
      background,
    });
    app.decorate('accounts', { service, hasher, mail, directory, limiter, limits, background });
    decorateAuth(app);
    app.addHook('onClose', async () => {
      await background.settle();
    });
  },
  { name: 'tenantry-accounts', fastify: '5.x', dependencies: ['tenantry-tenancy', 'tenantry-jobs'] },
);
