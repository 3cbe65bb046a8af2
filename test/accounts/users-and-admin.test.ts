/**
 * Users (list, CSV export/import, last OWNER), roles, groups, settings, and bad input on every body field.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ResponseChecker } from '../../bench/response-check.ts';
import type { App } from '../../src/app.ts';
import {
  type AccountsApp,
  accountsApp,
  linkToken,
  mailTo,
  type Owner,
  randomIp,
  registerBody,
  signUp,
  uniqueEmail,
} from './helpers.ts';

let context: AccountsApp;
let app: App;
let owner: Owner;
beforeAll(async () => {
  context = await accountsApp();
  app = context.app;
  owner = await signUp(context, { company_name: 'Importers' });
});

const call = (
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  payload?: object | string,
  headers: Record<string, string> = {},
) =>
  app.inject({
    method,
    url,
    headers: { ...owner.headers, ...headers },
    ...(payload === undefined ? {} : { payload }),
  });

describe('users', () => {
  it('lists with search, sort, pagination and counts', async () => {
    for (const [first, last] of [
      ['Zoe', 'Adams'],
      ['yann', 'Brown'],
      ['Xavier', 'Clarke'],
    ]) {
      expect(
        (
          await call('POST', '/users/', {
            email: uniqueEmail(first),
            first_name: first!,
            last_name: last!,
            password: 'list-password',
          })
        ).statusCode,
      ).toBe(201);
    }
    const page = (await call('GET', '/users?sort=first_name&order=desc&size=2&page=1')).json();
    expect(page).toMatchObject({ total: 4, page: 1, size: 2, pages: 2 });
    expect(page.items.map((u: { first_name: string }) => u.first_name)).toEqual(['Zoe', 'yann']);
    const search = (await call('GET', '/users/?search=BROWN')).json();
    expect(search.items.map((u: { last_name: string }) => u.last_name)).toEqual(['Brown']);
    expect((await call('GET', '/users/count?search=%25')).json()).toEqual({ count: 0 });
    expect((await call('GET', '/users/count')).json()).toEqual({ count: 4 });
    for (const bad of [
      'sort=password_hash',
      'order=sideways',
      'size=0',
      'size=101',
      'page=0',
      'sort=email;drop',
    ]) {
      expect((await call('GET', `/users/?${bad}`)).statusCode, bad).toBe(400);
    }
  });

  it('pages are JSON made by PostgreSQL: documented shape, and user for user the single-user answer', async () => {
    const checker = new ResponseChecker((await call('GET', '/docs/json')).json());
    for (const query of ['', '?sort=created_at&order=desc', '?search=o&sort=last_name', '?page=50']) {
      const response = await call('GET', `/users/${query}`);
      expect(response.statusCode, query).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      const page = response.json();
      checker.check('GET', '/users/', 200, page);
      const search = new URLSearchParams(query.slice(1)).get('search');
      const count = await call('GET', `/users/count${search ? `?search=${search}` : ''}`);
      expect(page.total, query).toBe(count.json().count);
      for (const item of page.items) {
        const one = (await call('GET', `/users/${item.uuid}`)).json();
        expect(item).toEqual(one);
        expect(Object.keys(item)).toEqual(Object.keys(one));
      }
    }
    // Past the last page: no items, the total all the same.
    const past = (await call('GET', '/users/?page=50')).json();
    expect(past.items).toEqual([]);
    expect(past.total).toBeGreaterThan(0);
  });

  it('exports CSV: ;-separated, UTF-8 with BOM, header, dated file name, formula cells defused', async () => {
    await call('POST', '/users/', {
      email: uniqueEmail('formula'),
      first_name: '=HYPERLINK("x")',
      last_name: 'Zß',
      password: 'csv-password-1',
    });
    const response = await call('GET', '/users/export');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(
      new RegExp(`^attachment; filename="users-${owner.tenant}-\\d{4}-\\d\\d-\\d\\d\\.csv"$`),
    );
    expect(
      response.body.startsWith(
        '\uFEFFemail;first_name;last_name;role;phone;tz;lang;is_active;is_verified;created_at\r\n',
      ),
    ).toBe(true);
    expect(response.body).toContain(`"'=HYPERLINK(""x"")";Zß;MEMBER`);
  });

  it('imports CSV all-or-nothing: one broken row changes nothing; a clean file creates invitations', async () => {
    const before = (await call('GET', '/users/count')).json().count;
    const good = uniqueEmail('imp');
    const broken = `email;first_name;last_name;role\r\n${good};Ann;Lee;member\r\nnot-an-email;Bob;;ADMIN\r\n${good};Dup;Row;NOPE\r\n`;
    const refused = await call('POST', '/users/import', broken, { 'content-type': 'text/csv' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().errors).toEqual([
      { path: '/rows/3/email', message: 'is not an e-mail address' },
      { path: '/rows/3/last_name', message: 'must have 1 to 100 characters' },
      { path: '/rows/4/email', message: 'repeats line 2' },
      { path: '/rows/4/role', message: 'is not a role of this tenant' },
    ]);
    expect((await call('GET', '/users/count')).json().count).toBe(before);
    expect(await app.accounts.directory.repository().find(good)).toBeUndefined();

    const second = uniqueEmail('imp');
    const clean = `email,first_name,last_name,tz\n${good},Ann,Lee,Europe/Berlin\n"${second}","Bo, Jr.",Kim,\n`;
    const imported = await call('POST', '/users/import', clean, { 'content-type': 'text/csv' });
    expect(imported.statusCode, imported.body).toBe(201);
    expect(imported.json().created).toBe(2);
    const invite = await mailTo(context.outbox, second, /invited/);
    const accepted = await app.inject({
      method: 'POST',
      url: '/auth/accept-invite',
      payload: { token: linkToken(invite.text, 'accept-invite'), password: 'imported-pass' },
    });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json().user).toMatchObject({ email: second, first_name: 'Bo, Jr.' });

    expect(
      (await call('POST', '/users/import', 'email;name\r\nx@y.z;n', { 'content-type': 'text/csv' }))
        .statusCode,
    ).toBe(422);
    expect(
      (await call('POST', '/users/import', 'email;first_name;last_name\r\n', { 'content-type': 'text/csv' }))
        .statusCode,
    ).toBe(422);
    const many = [
      'email;first_name;last_name',
      ...Array.from({ length: 1001 }, (_, i) => `u${i}@many.example;A;B`),
    ].join('\n');
    expect((await call('POST', '/users/import', many, { 'content-type': 'text/csv' })).statusCode).toBe(422);
    expect((await call('POST', '/users/import', { email: 'x' })).statusCode).toBe(400);
  });

  it('the last OWNER can be neither deleted, deactivated nor demoted; an ADMIN cannot promote to OWNER', async () => {
    const roles = (await call('GET', '/roles/')).json().items as Array<{ name: string; uuid: string }>;
    const role = (name: string) => roles.find((r) => r.name === name)!.uuid;
    expect((await call('DELETE', `/users/${owner.uuid}`)).statusCode).toBe(409);
    expect((await call('PATCH', `/users/${owner.uuid}`, { is_active: false })).statusCode).toBe(409);
    expect((await call('PATCH', `/users/${owner.uuid}`, { role_uuid: role('ADMIN') })).statusCode).toBe(409);

    const adminEmail = uniqueEmail('admin');
    const admin = await call('POST', '/users/', {
      email: adminEmail,
      first_name: 'Ad',
      last_name: 'Min',
      password: 'admin-password',
      role_uuid: role('ADMIN'),
    });
    expect(admin.statusCode).toBe(201);
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: adminEmail, password: 'admin-password' },
      remoteAddress: randomIp(),
    });
    const adminHeaders = { tenant: owner.tenant, authorization: `Bearer ${login.json().auth_token}` };
    const promote = await app.inject({
      method: 'PATCH',
      url: `/users/${admin.json().uuid}`,
      headers: adminHeaders,
      payload: { role_uuid: role('OWNER') },
    });
    expect(promote.statusCode).toBe(403);
    const touchOwner = await app.inject({
      method: 'PATCH',
      url: `/users/${owner.uuid}`,
      headers: adminHeaders,
      payload: { first_name: 'Mallory' },
    });
    expect(touchOwner.statusCode).toBe(403);

    // With a second OWNER the first may step down.
    expect(
      (await call('PATCH', `/users/${admin.json().uuid}`, { role_uuid: role('OWNER') })).statusCode,
    ).toBe(200);
    expect((await call('PATCH', `/users/${owner.uuid}`, { first_name: 'Still' })).statusCode).toBe(200);
  });
});

describe('roles, groups, settings', () => {
  it('custom roles CRUD; system roles protected; a role in use cannot be deleted', async () => {
    const created = await call('POST', '/roles/', {
      name: 'AUDITOR',
      title: 'Auditor',
      permissions: ['USER_VIEW', 'USER_EXPORT'],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'AUDITOR',
      is_system: false,
      permissions: ['USER_EXPORT', 'USER_VIEW'],
      user_count: 0,
    });
    expect(
      (await call('POST', '/roles/', { name: 'AUDITOR', title: 'Again', permissions: [] })).statusCode,
    ).toBe(409);
    const uuid = created.json().uuid;
    const patched = await call('PATCH', `/roles/${uuid}`, { permissions: ['USER_VIEW'] });
    expect(patched.json().permissions).toEqual(['USER_VIEW']);
    const user = await call('POST', '/users/', {
      email: uniqueEmail('aud'),
      first_name: 'A',
      last_name: 'U',
      password: 'auditor-pass',
      role_uuid: uuid,
    });
    expect(user.statusCode).toBe(201);
    expect((await call('DELETE', `/roles/${uuid}`)).statusCode).toBe(409);
    await call('DELETE', `/users/${user.json().uuid}`);
    expect((await call('DELETE', `/roles/${uuid}`)).statusCode).toBe(204);
    const owner_ = (await call('GET', '/roles/'))
      .json()
      .items.find((r: { name: string }) => r.name === 'OWNER');
    expect((await call('PATCH', `/roles/${owner_.uuid}`, { title: 'Boss' })).statusCode).toBe(409);
    expect((await call('DELETE', `/roles/${owner_.uuid}`)).statusCode).toBe(409);
    expect((await call('GET', '/roles/permissions')).json().items).toHaveLength(17); // 16 + WEBHOOK_MANAGE (issue 19)
  });

  it('groups with member replace-sets', async () => {
    const member = (
      await call('POST', '/users/', {
        email: uniqueEmail('g'),
        first_name: 'G',
        last_name: 'M',
        password: 'group-password',
      })
    ).json();
    const group = await call('POST', '/groups/', {
      name: 'Ops',
      description: 'On call',
      member_uuids: [owner.uuid, member.uuid],
    });
    expect(group.statusCode, group.body).toBe(201);
    expect(group.json().members).toHaveLength(2);
    expect((await call('POST', '/groups/', { name: 'OPS' })).statusCode).toBe(409);
    const replaced = await call('PATCH', `/groups/${group.json().uuid}`, { member_uuids: [member.uuid] });
    expect(replaced.json().members.map((m: { uuid: string }) => m.uuid)).toEqual([member.uuid]);
    expect((await call('GET', '/groups/?search=op')).json()).toMatchObject({
      total: 1,
      items: [{ name: 'Ops', member_count: 1 }],
    });
    expect((await call('DELETE', `/groups/${group.json().uuid}`)).statusCode).toBe(204);
    expect((await call('GET', `/groups/${group.json().uuid}`)).statusCode).toBe(404);
  });

  it('settings: typed whitelist, defaults, null resets', async () => {
    expect((await call('GET', '/settings/')).json()).toEqual({
      default_tz: 'UTC',
      default_lang: 'en',
      week_start: 'monday',
      default_task_priority: 'medium',
    });
    const put = await call('PUT', '/settings/', { default_tz: 'Europe/Paris', week_start: 'sunday' });
    expect(put.json()).toMatchObject({ default_tz: 'Europe/Paris', week_start: 'sunday' });
    expect((await call('PUT', '/settings/', { week_start: null })).json().week_start).toBe('monday');
    expect((await call('PUT', '/settings/', { default_tz: 'Mars/Olympus' })).statusCode).toBe(422);
    expect((await call('PUT', '/settings/', { colour: 'red' })).statusCode).toBe(400);
    expect((await call('PUT', '/settings/me', { theme: 'dark', tasks_page_size: 20 })).json()).toEqual({
      theme: 'dark',
      email_notifications: true,
      week_start: null,
      tasks_page_size: 20,
    });
    expect((await call('PUT', '/settings/me', { tasks_page_size: 5 })).statusCode).toBe(400);
    expect((await call('PUT', '/settings/me', {})).statusCode).toBe(400);
  });
});

describe('bad input on every body field → 400/422 problem+json', () => {
  const long = (n: number) => 'x'.repeat(n);
  const cases: Array<[url: string, method: 'POST' | 'PATCH', body: Record<string, unknown>, status: number]> =
    [];
  const register = registerBody();
  for (const [field, values] of Object.entries({
    // Numbers and booleans sent for strings are coerced by the app's Ajv (coerceTypes), so not listed.
    company_name: ['', '   ', long(201), null, {}],
    first_name: ['', long(101), null, []],
    last_name: ['', long(101), null],
    email: ['no-at-sign', 'a@', `${long(250)}@x.io`, null],
    password: ['short', long(201), null],
    tos: [false, 'yes', null],
    tz: ['', 'Not a zone!', long(65)],
    lang: ['english', 'EN', ''],
  })) {
    for (const value of values) cases.push(['/auth/register', 'POST', { ...register, [field]: value }, 400]);
    if (field !== 'tz' && field !== 'lang')
      cases.push([
        '/auth/register',
        'POST',
        Object.fromEntries(Object.entries(register).filter(([key]) => key !== field)),
        400,
      ]);
  }
  cases.push(['/auth/register', 'POST', { ...register, extra: 1 }, 400]);
  cases.push(['/auth/register', 'POST', { ...register, password: register.email }, 422]);
  cases.push(['/auth/register', 'POST', { ...register, tz: 'Mars/Olympus' }, 422]);
  cases.push(['/auth/login', 'POST', { email: 'x', password: 'y' }, 400]);
  cases.push(['/auth/login', 'POST', { email: 'a@b.io', password: '' }, 400]);
  cases.push(['/auth/login', 'POST', { email: 'a@b.io', password: 'y', permanent: 'yes' }, 400]);
  cases.push(['/auth/login', 'POST', { email: 'a@b.io', password: 'y', admin: true }, 400]);
  cases.push(['/auth/verify-email', 'POST', { token: 'short' }, 400]);
  cases.push(['/auth/verify-email', 'POST', {}, 400]);
  cases.push(['/auth/password-reset/request', 'POST', { email: 'nope' }, 400]);
  cases.push(['/auth/password-reset/confirm', 'POST', { token: long(60), password: 'short' }, 400]);
  cases.push(['/auth/accept-invite', 'POST', { token: long(60) }, 400]);
  cases.push(['/users/', 'POST', { email: 'bad', first_name: 'A', last_name: 'B' }, 400]);
  cases.push(['/users/', 'POST', { email: 'ok@x.io', first_name: '', last_name: 'B' }, 400]);
  cases.push([
    '/users/',
    'POST',
    { email: 'ok@x.io', first_name: 'A', last_name: 'B', password: 'short' },
    400,
  ]);
  cases.push([
    '/users/',
    'POST',
    { email: 'long.enough@x.io', first_name: 'A', last_name: 'B', password: 'LONG.enough@x.io' },
    422,
  ]);
  cases.push([
    '/users/',
    'POST',
    { email: 'ok@x.io', first_name: 'A', last_name: 'B', role_uuid: 'not-a-uuid' },
    400,
  ]);
  cases.push([
    '/users/',
    'POST',
    { email: 'ok@x.io', first_name: 'A', last_name: 'B', phone: 'call me' },
    400,
  ]);
  cases.push(['/users/', 'POST', { email: 'ok@x.io', first_name: 'A', last_name: 'B', is_admin: true }, 400]);
  cases.push(['/roles/', 'POST', { name: 'lower', title: 'x', permissions: [] }, 400]);
  cases.push(['/roles/', 'POST', { name: 'OK', title: 'x', permissions: ['FLY'] }, 400]);
  cases.push(['/roles/', 'POST', { name: 'OK', title: '', permissions: [] }, 400]);
  cases.push(['/groups/', 'POST', { name: long(101) }, 400]);
  cases.push(['/groups/', 'POST', { name: 'G', member_uuids: ['nope'] }, 400]);
  cases.push(['/groups/', 'POST', { name: 'G', owner: 'me' }, 400]);

  it.each(cases.map((c, i) => [i, ...c] as const))('#%i %s %s', async (_i, url, method, body, status) => {
    // A fresh address per case: the per-e-mail rate limit must not be what answers.
    const payload =
      url === '/auth/register' && body.email === register.email
        ? { ...body, email: uniqueEmail('bad') }
        : body;
    if (body.password === register.email) payload.password = payload.email;
    const response = await app.inject({
      method,
      url,
      payload,
      headers: owner.headers,
      remoteAddress: randomIp(),
    });
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({
      status,
      type: expect.stringMatching(/^https:\/\/tenantry\.dev\/problems\//),
    });
  });
});
