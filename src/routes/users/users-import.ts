/**
 * CSV import of users (SPEC 4): every row is validated first and nothing is written unless all rows are
 * valid (422 with one error per bad cell, `/rows/<line>/<column>`); then all users, their directory rows
 * and their invitation tokens are written in one transaction, with one `send-mail` job per invitation
 * (src/jobs/mail-jobs.ts): the job queue sends them after the commit, never holding the transaction.
 *
 * Columns (header row required, any order): email, first_name, last_name; optional role (a role name,
 * default MEMBER), phone, tz, lang. `;` or `,` separated.
 */
import { randomUUID } from 'node:crypto';
import { normalizeEmail } from '../../auth/account-service.ts';
import type { Accounts } from '../../auth/accounts-plugin.ts';
import { type FieldError, problems } from '../../http/problem.ts';
import { isTimeZone } from '../auth/validation.ts';
import { CsvSyntaxError, parseCsv } from './csv.ts';
import { type RoleRef, UsersRepository } from './users-repository.ts';
import { type Actor, DEFAULT_ROLE, insertDirectory, type UsersService } from './users-service.ts';

/** Rows per import; bigger lists can be split. Keeps one transaction and one request bounded. */
export const IMPORT_MAX_ROWS = 1000;

const REQUIRED = ['email', 'first_name', 'last_name'] as const;
const OPTIONAL = ['role', 'phone', 'tz', 'lang'] as const;
type Column = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];
const COLUMNS: ReadonlySet<string> = new Set([...REQUIRED, ...OPTIONAL]);

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LANG = /^[a-z]{2,3}(-[A-Z]{2})?$/;
const PHONE = /^[0-9+()\-. ]{0,32}$/;

interface ValidRow {
  email: string;
  first_name: string;
  last_name: string;
  role: RoleRef;
  phone: string | null;
  tz: string | undefined;
  lang: string | undefined;
}

export interface ImportResult {
  created: number;
  users: Array<{ uuid: string; email: string }>;
}

export class UsersImport {
  constructor(
    private readonly accounts: Accounts,
    private readonly users: UsersService,
  ) {}

  async run(actor: Actor, csv: string): Promise<ImportResult> {
    const rows = this.parse(csv);
    const result = await this.accounts.directory.run(actor.tenant, async (trx, directory) => {
      const repository = new UsersRepository(trx);
      const valid = await this.validate(repository, actor, rows);
      const created: ImportResult['users'] = [];
      for (const row of valid) {
        const uuid = randomUUID();
        await insertDirectory(() =>
          directory.insert({ email: row.email, tenant_id: actor.tenant.id, user_uuid: uuid }),
        );
        const user = await repository.insert({
          uuid,
          email: row.email,
          first_name: row.first_name,
          last_name: row.last_name,
          phone: row.phone,
          password_hash: null,
          role_id: row.role.id,
          is_verified: false,
          tz: row.tz,
          lang: row.lang,
        });
        const mail = await this.accounts.service.invitation(trx, {
          tenantId: actor.tenant.id,
          company: actor.company,
          userId: user.id,
          email: row.email,
          firstName: row.first_name,
          inviter: `${actor.user.first_name} ${actor.user.last_name}`.trim(),
        });
        await this.accounts.mail.enqueueForTenant(
          actor.tenant.host,
          trx,
          mail,
          `mail:invite:${actor.tenant.id}:${uuid}`,
        );
        created.push({ uuid, email: row.email });
      }
      return { created: created.length, users: created };
    });
    return result;
  }

  private parse(csv: string): Array<{ line: number; values: Partial<Record<Column, string>> }> {
    let table: ReturnType<typeof parseCsv>;
    try {
      table = parseCsv(csv);
    } catch (error) {
      if (error instanceof CsvSyntaxError)
        throw problems.unprocessable(`The CSV cannot be read: ${error.message}`, [
          { path: `/rows/${error.line}`, message: error.message },
        ]);
      throw error;
    }
    const [header, ...data] = table;
    if (!header) throw problems.unprocessable('The CSV is empty; expected a header row and data rows');
    const names = header.cells.map((name) => name.trim().toLowerCase());
    const errors: FieldError[] = [];
    for (const name of names)
      if (!COLUMNS.has(name)) errors.push({ path: `/rows/1/${name}`, message: 'is not a known column' });
    for (const name of REQUIRED)
      if (!names.includes(name)) errors.push({ path: `/rows/1/${name}`, message: 'column is missing' });
    if (new Set(names).size !== names.length)
      errors.push({ path: '/rows/1', message: 'a column is repeated' });
    if (errors.length > 0) throw problems.unprocessable('The header row is not valid', errors);
    if (data.length === 0) throw problems.unprocessable('The CSV has no data rows');
    if (data.length > IMPORT_MAX_ROWS)
      throw problems.unprocessable(`At most ${IMPORT_MAX_ROWS} rows per import; split the file`);
    return data.map(({ line, cells }) => {
      const values: Partial<Record<Column, string>> = {};
      names.forEach((name, i) => {
        values[name as Column] = (cells[i] ?? '').trim();
      });
      return { line, values };
    });
  }

  private async validate(
    repository: UsersRepository,
    actor: Actor,
    rows: Array<{ line: number; values: Partial<Record<Column, string>> }>,
  ): Promise<ValidRow[]> {
    const errors: FieldError[] = [];
    const roles = await repository.rolesByName();
    const emails = rows.map((row) => normalizeEmail(row.values.email ?? ''));
    const inTenant = await repository.existingEmails(emails);
    const elsewhere = await this.accounts.directory.repository().existing(emails);
    const seen = new Map<string, number>();
    const allowedRoles = new Map<string, boolean>();
    const valid: ValidRow[] = [];

    for (const [index, { line, values }] of rows.entries()) {
      const fail = (column: Column, message: string) =>
        errors.push({ path: `/rows/${line}/${column}`, message });
      const email = emails[index]!;
      if (!EMAIL.test(email) || email.length > 254) fail('email', 'is not an e-mail address');
      else if (seen.has(email)) fail('email', `repeats line ${seen.get(email)}`);
      else if (inTenant.has(email) || elsewhere.has(email)) fail('email', 'is already in use');
      seen.set(email, seen.get(email) ?? line);
      for (const column of ['first_name', 'last_name'] as const) {
        const value = values[column] ?? '';
        if (value.length < 1 || value.length > 100) fail(column, 'must have 1 to 100 characters');
      }
      const roleName = (values.role || DEFAULT_ROLE).toUpperCase();
      const role = roles.get(roleName);
      if (!role) fail('role', `is not a role of this tenant`);
      else {
        if (!allowedRoles.has(roleName)) {
          allowedRoles.set(
            roleName,
            await this.users.assignableRole(repository, actor, role.uuid, '').then(
              () => true,
              () => false,
            ),
          );
        }
        if (!allowedRoles.get(roleName)) fail('role', 'grants permissions you do not have');
      }
      const phone = values.phone ?? '';
      if (!PHONE.test(phone)) fail('phone', 'is not a phone number');
      const tz = values.tz || undefined;
      if (tz !== undefined && !isTimeZone(tz)) fail('tz', 'is not an IANA time zone name');
      const lang = values.lang || undefined;
      if (lang !== undefined && !LANG.test(lang)) fail('lang', 'is not a language tag like en or pt-BR');
      if (role)
        valid.push({
          email,
          first_name: values.first_name ?? '',
          last_name: values.last_name ?? '',
          role,
          phone: phone || null,
          tz,
          lang,
        });
    }
    if (errors.length > 0)
      throw problems.unprocessable(`${errors.length} problem(s) in the CSV; nothing was imported`, errors);
    return valid;
  }
}
