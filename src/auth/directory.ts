/**
 * The account directory `public.accounts` (SPEC 3.1): e-mail → (tenant, user). It makes login unified
 * (no tenant header) and e-mails unique across tenants (primary key on the lower-cased e-mail, so two
 * tenants racing for one address get a unique violation → 409).
 *
 * A user row (tenant schema) and its directory row must change together. `DirectoryWork.run` gives the
 * work a tenant transaction and a directory handle:
 *  - tenant on the default host: the directory handle is the same transaction → truly atomic;
 *  - tenant on another host: directory writes commit on the default host as they happen and are undone
 *    (compensated) if the tenant transaction then fails. The directory is written first, so a conflict
 *    (409) stops the work before the tenant is touched.
 */
import { type DatabaseHosts, DEFAULT_HOST } from '../db/hosts.ts';
import type { TenantContext } from '../tenancy/tenant-plugin.ts';
import { type AccountDb, accountDb } from './tables.ts';

export interface DirectoryEntry {
  email: string;
  tenant_id: string;
  user_uuid: string;
}

/** SQL on public.accounts; `db` is any handle on the default host (a transaction or the pool). */
export class DirectoryRepository {
  constructor(private readonly db: AccountDb) {}

  private table() {
    return this.db.withSchema('public');
  }

  find(email: string): Promise<DirectoryEntry | undefined> {
    return this.table()
      .selectFrom('accounts')
      .select(['email', 'tenant_id', 'user_uuid'])
      .where('email', '=', email.toLowerCase())
      .executeTakeFirst();
  }

  /** Which of these (lower-cased) e-mails have an account anywhere. */
  async existing(emails: string[]): Promise<Set<string>> {
    if (emails.length === 0) return new Set();
    const rows = await this.table()
      .selectFrom('accounts')
      .select('email')
      .where('email', 'in', emails)
      .execute();
    return new Set(rows.map((row) => row.email));
  }

  async insert(entry: DirectoryEntry): Promise<void> {
    await this.table()
      .insertInto('accounts')
      .values({ ...entry, email: entry.email.toLowerCase() })
      .execute();
  }

  async changeEmail(tenantId: string, from: string, to: string): Promise<void> {
    await this.table()
      .updateTable('accounts')
      .set({ email: to.toLowerCase() })
      .where('email', '=', from.toLowerCase())
      .where('tenant_id', '=', tenantId)
      .execute();
  }

  async remove(tenantId: string, email: string): Promise<void> {
    await this.table()
      .deleteFrom('accounts')
      .where('email', '=', email.toLowerCase())
      .where('tenant_id', '=', tenantId)
      .execute();
  }
}

/** Directory writes the work may do; each is undone on failure when it could not share the transaction. */
export interface DirectoryWriter {
  insert(entry: DirectoryEntry): Promise<void>;
  changeEmail(from: string, to: string): Promise<void>;
  remove(email: string): Promise<void>;
}

export class DirectoryWork {
  constructor(private readonly hosts: DatabaseHosts) {}

  /** The directory on the default host (reads outside any tenant transaction: login, reset request). */
  repository(): DirectoryRepository {
    return new DirectoryRepository(accountDb(this.hosts.db(DEFAULT_HOST)));
  }

  async run<T>(
    tenant: Pick<TenantContext, 'id' | 'host' | 'db'>,
    work: (trx: AccountDb, directory: DirectoryWriter) => Promise<T>,
  ): Promise<T> {
    const tenantId = tenant.id;
    if (tenant.host === DEFAULT_HOST) {
      return accountDb(tenant.db)
        .transaction()
        .execute((trx) =>
          work(
            trx,
            writerFor(tenantId, new DirectoryRepository(trx), () => {}),
          ),
        );
    }
    const undo: Array<() => Promise<void>> = [];
    const repository = this.repository();
    try {
      return await accountDb(tenant.db)
        .transaction()
        .execute((trx) =>
          work(
            trx,
            writerFor(tenantId, repository, (step) => undo.push(step)),
          ),
        );
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => {});
      throw error;
    }
  }
}

function writerFor(
  tenantId: string,
  repository: DirectoryRepository,
  onUndo: (step: () => Promise<void>) => void,
): DirectoryWriter {
  return {
    async insert(entry) {
      await repository.insert(entry);
      onUndo(() => repository.remove(tenantId, entry.email));
    },
    async changeEmail(from, to) {
      await repository.changeEmail(tenantId, from, to);
      onUndo(() => repository.changeEmail(tenantId, to, from));
    },
    async remove(email) {
      const entry = await repository.find(email);
      await repository.remove(tenantId, email);
      if (entry?.tenant_id === tenantId) onUndo(() => repository.insert(entry));
    },
  };
}
