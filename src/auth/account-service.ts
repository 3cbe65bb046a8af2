/**
 * The account flows that need no session (SPEC 4): company sign-up, e-mail verification, unified login,
 * password reset, accepting an invitation. Rules live here; SQL in the repositories; HTTP shapes in
 * src/routes/auth.
 *
 * Unified login answers every failure before the password check the same way ("e-mail or password is
 * wrong", 401) after spending one argon2 verification, so neither the answer nor its timing tells
 * whether an address has an account. Only a caller who knows the right password learns that the account
 * is deactivated or not verified yet (403).
 */
import type { Config } from '../config.ts';
import { type AnyDb, DEFAULT_HOST } from '../db/hosts.ts';
import { SQLSTATE, sqlState } from '../db/sqlstate.ts';
import { problems } from '../http/problem.ts';
import type { MailQueue } from '../jobs/mail-jobs.ts';
import type { MailMessage } from '../mail/mailer.ts';
import { invitationMail, passwordResetMail, verificationMail } from '../mail/templates.ts';
import { UsersRepository } from '../routes/users/users-repository.ts';
import type { TenantRegistry } from '../tenancy/registry.ts';
import { deriveTenantId } from '../tenancy/tenant-id.ts';
import type { TenantContext } from '../tenancy/tenant-plugin.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { BackgroundTasks } from './background.ts';
import { rateLimitAddress } from './client-address.ts';
import { CredentialsRepository } from './credentials-repository.ts';
import { DirectoryRepository, type DirectoryWork } from './directory.ts';
import { OneTimeTokens } from './one-time-tokens.ts';
import { assertPassword, type PasswordHasher } from './passwords.ts';
import type { SessionAnswer } from './principal.ts';
import type { AccountRateLimits, RateCheck, RateLimiter } from './rate-limit.ts';
import { type ClientInfo, openSession, revokeAllSessions } from './sessions.ts';
import { recordSignup, settleSignup, signupOpen } from './signups.ts';
import { type AccountDb, accountDb, type OneTimeTokenKind } from './tables.ts';
import { parseTenantToken } from './tokens.ts';

export interface AccountServiceDeps {
  config: Pick<Config, 'appUrl' | 'unverifiedSignupHours'>;
  tenants: TenantService;
  /** Company names for e-mails. */
  registry: Pick<TenantRegistry, 'find'>;
  /** The default host (public schema: pending sign-ups). */
  publicDb: AnyDb;
  /** Called after a tenant is created so this process serves it at once (registry cache). */
  onTenantCreated: (tenantId: string) => Promise<void>;
  /** The tenant, when it may be served to this client (its Host may pin another tenant: null). */
  openTenant: (tenantId: string, client: ClientInfo) => Promise<TenantContext | null>;
  directory: DirectoryWork;
  hasher: PasswordHasher;
  /** The e-mail outbox: messages are jobs enqueued in the transaction that creates their rows. */
  mail: MailQueue;
  limiter: RateLimiter;
  limits: AccountRateLimits;
  background: BackgroundTasks;
}

export interface RegisterInput {
  company_name: string;
  first_name: string;
  last_name: string;
  email: string;
  password: string;
  tz?: string;
  lang?: string;
}

export interface RegisteredAccount {
  tenant_id: string;
  user: { uuid: string; email: string; first_name: string; last_name: string; tz: string; lang: string };
  verification: 'sent';
}

const WRONG_CREDENTIALS = 'The e-mail address or the password is wrong';
const BAD_LINK = 'The link is invalid, already used or expired; ask for a new one';

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {}

  async register(input: RegisterInput, client: ClientInfo): Promise<RegisteredAccount> {
    const email = normalizeEmail(input.email);
    const { limiter, limits } = this.deps;
    await limiter.consume([
      [`register:ip:${rateLimitAddress(client.ip)}`, limits.registerPerIp],
      [`register:email:${email}`, limits.registerPerEmail],
    ]);
    assertPassword(input.password, email);
    if (await this.deps.directory.repository().find(email)) throw emailTaken();
    const passwordHash = await this.deps.hasher.hash(input.password);

    const tenantId = deriveTenantId(input.company_name);
    let user: RegisteredAccount['user'] | undefined;
    // Schema, migrations, registry row, owner, directory row, verification token and the e-mail's job:
    // one transaction. The e-mail is sent by the job queue after commit (retried while the mail server
    // is down), so sign-up neither waits for nor fails because of the mail server.
    await this.deps.tenants.create(
      { name: input.company_name, tenantId },
      {
        inTransaction: async (conn) => {
          const db = accountDb(conn.withSchema(tenantId));
          const users = new UsersRepository(db);
          const owner = await users.roleByName('OWNER');
          if (!owner) throw new Error('the OWNER role is missing from a fresh tenant');
          const created = await users.insert({
            email,
            first_name: input.first_name.trim(),
            last_name: input.last_name.trim(),
            password_hash: passwordHash,
            role_id: owner.id,
            is_verified: false,
            tz: input.tz,
            lang: input.lang,
          });
          const row = await users.findById(created.id);
          if (!row) throw new Error('the new owner vanished');
          user = {
            uuid: row.uuid,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            tz: row.tz,
            lang: row.lang,
          };
          await insertDirectoryEntry(accountDb(conn), { email, tenant_id: tenantId, user_uuid: row.uuid });
          await recordSignup(conn, tenantId);
          const token = await new OneTimeTokens(db).issue(tenantId, created.id, 'verify_email');
          await this.deps.mail.enqueue(
            conn,
            verificationMail({
              to: email,
              firstName: row.first_name,
              appUrl: this.deps.config.appUrl,
              token,
              company: input.company_name.trim(),
            }),
            `mail:verify:${tenantId}:${row.uuid}`,
          );
        },
      },
    );
    await this.deps.onTenantCreated(tenantId);
    if (!user) throw new Error('registration committed without a user');
    return { tenant_id: tenantId, user, verification: 'sent' };
  }

  async login(
    input: { email: string; password: string; permanent?: boolean },
    client: ClientInfo,
  ): Promise<SessionAnswer> {
    const email = normalizeEmail(input.email);
    const { limiter, limits } = this.deps;
    // Failures are counted per (e-mail, address), per address and per e-mail (issue 14): a wrong password
    // locks only its pair, so nobody can lock the owner out from elsewhere by guessing. Counted before
    // the check (concurrent guesses cannot overrun a budget) and taken back when it was no failure.
    const pair = `login:pair:${email} ${rateLimitAddress(client.ip)}`;
    const checks: RateCheck[] = [
      [pair, limits.loginPerEmailAndIp],
      [`login:ip:${rateLimitAddress(client.ip)}`, limits.loginPerIp],
      [`login:email:${email}`, limits.loginPerEmail],
    ];
    await limiter.consume(checks);
    try {
      const answer = await this.checkCredentials(email, input, client);
      await limiter.refund(
        checks.map(([key]) => key),
        [pair],
      );
      return answer;
    } catch (error) {
      if (!(error instanceof Error && error.message === WRONG_CREDENTIALS)) {
        await limiter.refund(checks.map(([key]) => key)).catch(() => {});
      }
      throw error;
    }
  }

  private async checkCredentials(
    email: string,
    input: { password: string; permanent?: boolean },
    client: ClientInfo,
  ): Promise<SessionAnswer> {
    const { hasher } = this.deps;
    const entry = await this.deps.directory.repository().find(email);
    const tenant = entry ? await this.deps.openTenant(entry.tenant_id, client) : null;
    const db = tenant ? accountDb(tenant.db) : undefined;
    const user =
      db && entry ? await new CredentialsRepository(db).find({ uuid: entry.user_uuid }) : undefined;
    if (!tenant || !db || !user?.password_hash) {
      await hasher.verifyDummy(input.password);
      throw problems.unauthorized(WRONG_CREDENTIALS);
    }
    if (!(await hasher.verify(user.password_hash, input.password)))
      throw problems.unauthorized(WRONG_CREDENTIALS);
    if (!user.is_active) throw problems.forbidden('This account is deactivated; ask an administrator');
    if (!user.is_verified)
      throw problems.forbidden('Confirm your e-mail address first (see the e-mail we sent)');
    return openSession(db, {
      tenantId: tenant.id,
      userId: user.id,
      permanent: input.permanent ?? false,
      client,
    });
  }

  /** Verifies the address of the token's user and signs them in (SPEC 4). */
  async verifyEmail(token: string, client: ClientInfo): Promise<SessionAnswer> {
    return this.withOneTimeToken(token, 'verify_email', client, async (db, tenantId, userId) => {
      await this.settleSignup(db, tenantId, client);
      await new CredentialsRepository(db).markVerified(userId);
      return openSession(db, { tenantId, userId, permanent: false, client });
    });
  }

  /** Sets the invited user's password, marks the address verified, signs them in. */
  async acceptInvite(token: string, password: string, client: ClientInfo): Promise<SessionAnswer> {
    return this.withOneTimeToken(token, 'invitation', client, async (db, tenantId, userId) => {
      await this.setPassword(db, userId, password);
      return openSession(db, { tenantId, userId, permanent: false, client });
    });
  }

  /** Sets a new password and revokes every session of the user (SPEC 4, 11). */
  async confirmPasswordReset(token: string, password: string, client: ClientInfo): Promise<void> {
    await this.withOneTimeToken(token, 'password_reset', client, async (db, tenantId, userId) => {
      // Following the e-mailed link proves the address, as verifying does (setPassword marks it).
      await this.settleSignup(db, tenantId, client);
      await this.setPassword(db, userId, password);
      await revokeAllSessions(db, userId);
    });
  }

  /**
   * Always accepted (202) and answered at once: the lookup, the token and the e-mail happen in the
   * background, so the answer and its timing are the same whether the address has an account or not.
   */
  async requestPasswordReset(emailInput: string, client: ClientInfo): Promise<void> {
    const email = normalizeEmail(emailInput);
    const { limiter, limits } = this.deps;
    await limiter.consume([
      [`reset:ip:${rateLimitAddress(client.ip)}`, limits.resetPerIp],
      [`reset:email:${email}`, limits.resetPerEmail],
    ]);
    this.deps.background.run('password-reset-mail', async () => {
      const entry = await this.deps.directory.repository().find(email);
      const tenant = entry ? await this.deps.openTenant(entry.tenant_id, client) : null;
      if (!entry || !tenant) return;
      const db = accountDb(tenant.db);
      const user = await new CredentialsRepository(db).find({ uuid: entry.user_uuid });
      if (!user?.is_active) return;
      // The token and the e-mail's job commit together (same transaction on the default host).
      const after = await db.transaction().execute(async (trx) => {
        const token = await new OneTimeTokens(trx).issue(tenant.id, user.id, 'password_reset');
        return this.deps.mail.enqueueForTenant(
          tenant.host,
          trx,
          passwordResetMail({
            to: user.email,
            firstName: user.first_name,
            appUrl: this.deps.config.appUrl,
            token,
          }),
          `mail:reset:${tenant.id}:${entry.user_uuid}`,
        );
      });
      await after();
    });
  }

  /**
   * `POST /auth/verify-email/resend`: always accepted (202), answered before any lookup like the reset
   * request. A new verification e-mail goes out only when the address belongs to the active, unverified
   * owner of a sign-up still within its time; the new link replaces the earlier ones.
   */
  async resendVerification(emailInput: string, client: ClientInfo): Promise<void> {
    const email = normalizeEmail(emailInput);
    const { limiter, limits } = this.deps;
    await limiter.consume([
      [`resend:ip:${rateLimitAddress(client.ip)}`, limits.resendPerIp],
      [`resend:email:${email}`, limits.resendPerEmail],
    ]);
    this.deps.background.run('verification-mail', async () => {
      const entry = await this.deps.directory.repository().find(email);
      const tenant = entry ? await this.deps.openTenant(entry.tenant_id, client) : null;
      if (!entry || !tenant) return;
      const db = accountDb(tenant.db);
      const user = await new CredentialsRepository(db).find({ uuid: entry.user_uuid });
      if (!user?.is_active || user.is_verified) return;
      // Only a company's owner waiting to confirm the sign-up: invited users prove their address by
      // accepting the invitation (and choose their password there).
      if (!(await signupOpen(this.deps.publicDb, tenant.id, this.deps.config.unverifiedSignupHours))) return;
      const company = (await this.deps.registry.find(tenant.id))?.name ?? tenant.id;
      // The new link and its e-mail's job commit together, like the password reset's.
      const after = await db.transaction().execute(async (trx) => {
        const token = await new OneTimeTokens(trx).issue(tenant.id, user.id, 'verify_email');
        return this.deps.mail.enqueueForTenant(
          tenant.host,
          trx,
          verificationMail({
            to: user.email,
            firstName: user.first_name,
            appUrl: this.deps.config.appUrl,
            token,
            company,
          }),
          `mail:verify:${tenant.id}:${entry.user_uuid}`,
        );
      });
      await after();
    });
  }

  /** Sign-ups live on the default host, so their row shares the token's transaction (src/auth/signups.ts). */
  private async settleSignup(db: AccountDb, tenantId: string, client: ClientInfo): Promise<void> {
    const tenant = await this.deps.openTenant(tenantId, client);
    if (tenant?.host !== DEFAULT_HOST) return;
    await settleSignup(db, tenantId, this.deps.config.unverifiedSignupHours);
  }

  private async setPassword(db: AccountDb, userId: string, password: string): Promise<void> {
    const credentials = new CredentialsRepository(db);
    const user = await credentials.find({ id: userId });
    if (!user) throw problems.badRequest(BAD_LINK);
    assertPassword(password, user.email);
    await credentials.setPassword(userId, await this.deps.hasher.hash(password), true);
  }

  /**
   * Runs `work` in a transaction of the token's tenant after consuming the token; if `work` fails
   * (e.g. a password that breaks the rules → 422) the transaction rolls back and the token stays valid.
   */
  private async withOneTimeToken<T>(
    token: string,
    kind: OneTimeTokenKind,
    client: ClientInfo,
    work: (db: AccountDb, tenantId: string, userId: string) => Promise<T>,
  ): Promise<T> {
    await this.deps.limiter.consume([
      [`token:ip:${rateLimitAddress(client.ip)}`, this.deps.limits.tokenPerIp],
    ]);
    const parsed = parseTenantToken(token);
    const tenant = parsed ? await this.deps.openTenant(parsed.tenantId, client) : null;
    if (!parsed || !tenant) throw problems.badRequest(BAD_LINK);
    try {
      return await accountDb(tenant.db)
        .transaction()
        .execute(async (trx) => {
          const userId = await new OneTimeTokens(trx).consume(parsed.hash, kind);
          if (!userId) throw problems.badRequest(BAD_LINK);
          return work(trx, tenant.id, userId);
        });
    } catch (error) {
      // The tenant was deleted under the link (an expired sign-up taken by the clean-up, or an operator
      // deleting the company) while this process still had it cached: its tables are gone.
      const state = sqlState(error);
      if (state === SQLSTATE.UNDEFINED_TABLE || state === SQLSTATE.INVALID_SCHEMA_NAME)
        throw problems.badRequest(BAD_LINK);
      throw error;
    }
  }

  /** Issues an invitation token and composes its e-mail (users service sends it). */
  async invitation(
    db: AccountDb,
    input: {
      tenantId: string;
      company: string;
      userId: string;
      email: string;
      firstName: string;
      inviter: string;
    },
  ): Promise<MailMessage> {
    const token = await new OneTimeTokens(db).issue(input.tenantId, input.userId, 'invitation');
    return invitationMail({
      to: input.email,
      firstName: input.firstName,
      appUrl: this.deps.config.appUrl,
      token,
      inviter: input.inviter,
      company: input.company,
    });
  }
}

export const emailTaken = () => problems.conflict('This e-mail address is already in use');

/** Directory insert inside a transaction on the default host; a taken address → 409. */
async function insertDirectoryEntry(
  db: AccountDb,
  entry: { email: string; tenant_id: string; user_uuid: string },
): Promise<void> {
  try {
    await new DirectoryRepository(db).insert(entry);
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION) throw emailTaken();
    throw error;
  }
}
