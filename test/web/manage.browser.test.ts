/**
 * The web app's managing pages in Chromium against the real server and PostgreSQL (issue 18's gaps):
 * the person's theme and page size applied, a 1,000-task list kept to one page of rows, comments edited
 * and deleted, the trash with restore (by keyboard), groups with members, custom roles edited and
 * deleted, writes that survive a failing or absent network with one Idempotency-Key per action, and
 * every new page at 375 px and under axe-core.
 *
 * One file, steps in order on one server and browser (as app.browser.test.ts). The company and its
 * second person are made through the API; the browser signs in as a person would.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Owner, PASSWORD, signUp } from '../accounts/helpers.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/core.ts';
import { addMember, type Caller } from '../helpers/tenant-users.ts';
import {
  expectAccessible,
  expectNoSidewaysScroll,
  launchBrowser,
  newPage,
  screenshot,
  startServer,
  type WebServer,
} from './browser.ts';

const STEP_TIMEOUT = 120_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LIGHT = 'rgb(246, 247, 249)';
const DARK = 'rgb(21, 24, 28)';
let server: WebServer;
let browser: Browser;
let owner: Owner;
let mia: Caller;
let context: BrowserContext;
let page: Page;
/** Every write the owner's page sent, with its Idempotency-Key. */
const writes: { method: string; url: string; key: string | undefined }[] = [];

async function api(method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: unknown) {
  const response = await server.app.inject({
    method,
    url,
    headers: owner.headers,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.json();
}

const ownerCaller = (): Caller => ({ uuid: owner.uuid, email: owner.email, headers: owner.headers });

async function signIn(target: Page) {
  await target.goto(`${server.base}/app/login`);
  await target.getByLabel('E-mail').fill(owner.email);
  await target.getByLabel('Password').fill(PASSWORD);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.getByRole('heading', { name: 'Hello, Ada' }).waitFor();
}

const background = (target: Page) =>
  target.evaluate<string>('getComputedStyle(document.documentElement).backgroundColor');

async function saveMySettings(change: { theme?: string; size?: string }) {
  const form = page.getByRole('form', { name: 'Your settings' });
  if (change.theme) await form.getByLabel('Theme').selectOption(change.theme);
  if (change.size) await form.getByLabel('Tasks per page').fill(change.size);
  const saved = page.waitForResponse(
    (r) => r.url().endsWith('/settings/me') && r.request().method() === 'PUT',
  );
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  expect((await saved).status()).toBe(200);
}

async function tabTo(target: Page, label: string) {
  for (let i = 0; i < 80; i++) {
    await target.keyboard.press('Tab');
    if ((await target.evaluate<string | null>("document.activeElement.getAttribute('aria-label')")) === label)
      return;
  }
  throw new Error(`Tab never reached ${label}`);
}

describe('managing pages of the web app in Chromium', () => {
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    owner = await signUp(server);
    mia = await addMember(server.app, ownerCaller());
    ({ context, page } = await newPage(browser));
    page.on('dialog', (dialog) => void dialog.accept());
    page.on('request', (request) => {
      if (request.method() !== 'GET' && !new URL(request.url()).pathname.startsWith('/app/'))
        writes.push({
          method: request.method(),
          url: request.url(),
          key: request.headers()['idempotency-key'],
        });
    });
  }, 300_000);

  it(
    'applies the theme (light, dark, the system’s) at once and on every device the person signs in on',
    async () => {
      await signIn(page);
      await page.goto(`${server.base}/app/settings`);
      await page.getByRole('heading', { name: 'Your settings' }).waitFor();
      expect(await background(page)).toBe(LIGHT);

      await saveMySettings({ theme: 'dark' });
      await expect.poll(() => background(page)).toBe(DARK);
      await expectAccessible(page, 'settings (dark)');
      await screenshot(page, 'settings-dark');

      // Light wins over a dark system; "system" follows the system, live.
      await page.emulateMedia({ colorScheme: 'dark' });
      await saveMySettings({ theme: 'light' });
      await expect.poll(() => background(page)).toBe(LIGHT);
      await saveMySettings({ theme: 'system' });
      await expect.poll(() => background(page)).toBe(DARK);
      await page.emulateMedia({ colorScheme: 'light' });
      await expect.poll(() => background(page)).toBe(LIGHT);

      // Another device (fresh storage, light system) gets the saved theme from the server.
      await saveMySettings({ theme: 'dark' });
      const other = await newPage(browser);
      await signIn(other.page);
      await expect.poll(() => background(other.page)).toBe(DARK);
      await other.context.close();
      await page.reload();
      await expect.poll(() => background(page)).toBe(DARK);
      await saveMySettings({ theme: 'system' });
    },
    STEP_TIMEOUT,
  );

  it(
    'a list of 1,000 tasks shows one page of rows at the person’s page size, and pages through',
    async () => {
      const list = await api('POST', '/lists/', { name: 'Big' });
      const titles = Array.from({ length: 1000 }, (_, i) => `Task ${String(i + 1).padStart(4, '0')}`);
      for (let i = 0; i < titles.length; i += 20) {
        await Promise.all(
          titles.slice(i, i + 20).map((title) => api('POST', '/tasks/', { title, list_uuid: list.uuid })),
        );
      }
      const rows = page.getByTestId('task');
      const address = `${server.base}/app/tasks?list=${list.uuid}&status=all&sort=title`;

      await page.goto(`${server.base}/app/settings`);
      await saveMySettings({ size: '10' });
      await page.goto(address);
      await page.getByText('Page 1 of 100 (1000)').waitFor();
      expect(await rows.count()).toBe(10);

      await page.goto(`${server.base}/app/settings`);
      await saveMySettings({ size: '100' });
      await page.goto(address);
      await page.getByText('Page 1 of 10 (1000)').waitFor();
      expect(await rows.count()).toBe(100);
      // Scrolled to the end, the DOM still holds one page: 100 rows, a bounded number of elements.
      await page.mouse.wheel(0, 100_000);
      await rows.last().getByText('Task 0100').waitFor();
      expect(await rows.count()).toBe(100);
      expect(await page.evaluate<number>("document.getElementsByTagName('*').length")).toBeLessThan(3000);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText('Page 2 of 10 (1000)').waitFor();
      await rows.first().getByText('Task 0101').waitFor();
      expect(await rows.count()).toBe(100);
      await page.goto(`${address}&page=10`);
      await rows.last().getByText('Task 1000').waitFor();
      expect(await rows.count()).toBe(100);
    },
    STEP_TIMEOUT,
  );

  it(
    'edits and deletes a comment, and the timeline says so',
    async () => {
      const task = await api('POST', '/tasks/', { title: 'Review the copy' });
      await page.goto(`${server.base}/app/tasks/${task.uuid}`);
      await page.getByLabel('Add a comment').fill('First draft is in.');
      await page.getByRole('button', { name: 'Comment', exact: true }).click();
      const comment = page.getByTestId('comment');
      await comment.getByText('First draft is in.').waitFor();

      await comment.getByRole('button', { name: 'Edit comment' }).click();
      await comment.getByLabel('Edit comment').fill('Second draft is in.');
      await comment.getByRole('button', { name: 'Save comment' }).click();
      await comment.getByText('Second draft is in.').waitFor();
      await comment.getByText('edited', { exact: false }).waitFor();
      await page.getByText('Ada Lovelace edited a comment').waitFor();
      const stored = await api('GET', `/tasks/${task.uuid}/comments`);
      expect(stored.items.map((item: { body: string }) => item.body)).toEqual(['Second draft is in.']);
      await expectAccessible(page, 'task with a comment being edited');

      await comment.getByRole('button', { name: 'Delete comment' }).click();
      await page.getByText('Ada Lovelace deleted a comment').waitFor();
      await expect.poll(() => comment.count()).toBe(0);
      expect((await api('GET', `/tasks/${task.uuid}/comments`)).items).toEqual([]);
    },
    STEP_TIMEOUT,
  );

  it(
    'moves a task to the trash and restores it from the trash page, by keyboard',
    async () => {
      await page.getByRole('button', { name: 'Move to trash' }).click();
      await expect.poll(() => page.url()).toMatch(/\/app\/tasks$/);
      await page.getByRole('link', { name: 'Trash', exact: true }).click();
      await page.getByRole('heading', { name: 'Trash' }).waitFor();
      const row = page.getByTestId('trashed-task');
      await row.getByText('Review the copy').waitFor();
      expect(await row.count()).toBe(1);
      await expectAccessible(page, 'trash');
      await screenshot(page, 'trash');

      await tabTo(page, 'Restore Review the copy');
      await page.keyboard.press('Enter');
      await page.getByText('Restored “Review the copy”').waitFor();
      await page.getByText('The trash is empty.').waitFor();
      const live = await api('GET', '/tasks/?search=Review%20the%20copy');
      expect(live.items.map((item: { title: string }) => item.title)).toEqual(['Review the copy']);
    },
    STEP_TIMEOUT,
  );

  it(
    'creates a group, adds and removes members, renames and deletes it',
    async () => {
      await page.getByRole('link', { name: 'Settings', exact: true }).click();
      await page.getByRole('link', { name: 'Groups' }).click();
      await page.getByRole('heading', { name: 'Groups', exact: true }).waitFor();
      await page.getByText('No groups yet.').waitFor();
      await page.getByLabel('Name', { exact: true }).fill('Design');
      await page.getByLabel('Description', { exact: true }).fill('Pixels and words');
      await page.getByRole('button', { name: 'Create group' }).click();
      await page.getByText('Created group “Design”').waitFor();
      const detail = page.getByTestId('group-detail');
      await detail.getByRole('heading', { name: 'Design' }).waitFor();
      // Closed and opened again by keyboard.
      await detail.getByRole('button', { name: 'Close' }).click();
      await expect.poll(() => detail.count()).toBe(0);
      await tabTo(page, 'Open Design');
      await page.keyboard.press('Enter');
      await detail.getByRole('heading', { name: 'Design' }).waitFor();
      const { items } = await api('GET', '/groups/');
      const uuid = items[0].uuid as string;
      const members = async () =>
        ((await api('GET', `/groups/${uuid}`)).members as { uuid: string }[]).map((m) => m.uuid).sort();

      for (const [person, email] of [
        ['Mia Member', mia.email],
        ['Ada Lovelace', owner.email],
      ]) {
        await detail.getByLabel('Add a person').selectOption({ label: `${person} (${email})` });
        await detail.getByRole('button', { name: 'Add to group' }).click();
        await page.getByText(`Added ${person} to Design`).waitFor();
      }
      expect(await members()).toEqual([mia.uuid, owner.uuid].sort());
      await expect.poll(() => detail.getByTestId('member').count()).toBe(2);
      await expectAccessible(page, 'groups');
      await screenshot(page, 'groups');

      // Someone else adds Tom meanwhile; removing Mia from this page's older copy keeps him.
      const tom = await addMember(server.app, ownerCaller(), { first_name: 'Tom', last_name: 'Third' });
      await api('PATCH', `/groups/${uuid}`, { member_uuids: [mia.uuid, owner.uuid, tom.uuid] });
      await detail.getByRole('button', { name: 'Remove Mia Member' }).click();
      await page.getByText('Removed Mia Member from Design').waitFor();
      expect(await members()).toEqual([owner.uuid, tom.uuid].sort());
      await expect.poll(() => detail.getByTestId('member').count()).toBe(2);

      await detail.getByLabel('Name', { exact: true }).fill('Design team');
      await detail.getByRole('button', { name: 'Save group' }).click();
      await page.getByRole('button', { name: 'Open Design team' }).waitFor();
      expect((await api('GET', `/groups/${uuid}`)).name).toBe('Design team');

      await detail.getByRole('button', { name: 'Delete group' }).click();
      await page.getByText('Deleted group “Design team”').waitFor();
      expect((await api('GET', '/groups/')).total).toBe(0);
    },
    STEP_TIMEOUT,
  );

  it(
    'creates a role, edits its permissions, is refused deleting it while held, then deletes it',
    async () => {
      await page.getByRole('link', { name: 'Settings', exact: true }).click();
      await page.getByRole('link', { name: 'Roles and permissions' }).click();
      await page.getByRole('heading', { name: 'Roles and permissions' }).waitFor();
      await page.getByTestId('role').first().waitFor();
      // Built-in roles cannot be changed: no controls for them.
      expect(
        await page.getByRole('button', { name: /^(Edit|Delete) (Owner|Administrator|Member)$/ }).count(),
      ).toBe(0);

      await page.getByLabel('Name (UPPER_CASE)').fill('REVIEWER');
      await page.getByLabel('Title', { exact: true }).fill('Reviewer');
      await page.getByLabel('View tasks').check();
      await page.getByRole('button', { name: 'Create role' }).click();
      await page.getByText('Created role “Reviewer”').waitFor();
      const role = async () =>
        (
          (await api('GET', '/roles/')).items as {
            uuid: string;
            name: string;
            title: string;
            permissions: string[];
          }[]
        ).find((item) => item.name === 'REVIEWER');
      expect((await role())?.permissions).toEqual(['TASK_VIEW']);

      await tabTo(page, 'Edit Reviewer');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Edit Reviewer' }).waitFor();
      await page.getByLabel('Title', { exact: true }).fill('Senior reviewer');
      await page.getByLabel('Edit tasks').check();
      await page.getByRole('button', { name: 'Save role' }).click();
      await page.getByText('Saved role “Senior reviewer”').waitFor();
      const edited = await role();
      expect(edited?.title).toBe('Senior reviewer');
      expect(edited?.permissions.sort()).toEqual(['TASK_EDIT', 'TASK_VIEW']);
      await expectAccessible(page, 'roles');
      await screenshot(page, 'roles');

      // Held by Mia: the server refuses, and the page says why in its words.
      await api('PATCH', `/users/${mia.uuid}`, { role_uuid: edited?.uuid });
      await page.reload();
      await page.getByRole('button', { name: 'Delete Senior reviewer' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /held by 1 user/ })
        .waitFor();
      const member = ((await api('GET', '/roles/')).items as { uuid: string; name: string }[]).find(
        (item) => item.name === 'MEMBER',
      );
      await api('PATCH', `/users/${mia.uuid}`, { role_uuid: member?.uuid });
      await page.getByRole('button', { name: 'Delete Senior reviewer' }).click();
      await page.getByText('Deleted role “Senior reviewer”').waitFor();
      expect(await role()).toBeUndefined();
    },
    STEP_TIMEOUT,
  );

  it(
    'a write retried after lost connections keeps one Idempotency-Key, and an offline write waits',
    async () => {
      await page.goto(`${server.base}/app/tasks?list=inbox`);
      const keys: (string | undefined)[] = [];
      await page.route(`${server.base}/tasks/`, async (route) => {
        if (route.request().method() !== 'POST') return route.continue();
        keys.push(route.request().headers()['idempotency-key']);
        return keys.length <= 2 ? route.abort('internetdisconnected') : route.continue();
      });
      await page.getByLabel(/^New task/).fill('Written while the network fails');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await page.getByText(/Cannot reach the server; retrying/).waitFor();
      await page.getByRole('link', { name: 'Written while the network fails' }).waitFor();
      await page.unroute(`${server.base}/tasks/`);
      expect(keys).toHaveLength(3);
      expect(keys[0]).toMatch(UUID);
      expect(new Set(keys).size).toBe(1);
      const created = await api('GET', '/tasks/?search=Written%20while%20the%20network%20fails');
      expect(created.total).toBe(1);

      // Offline: the page says so, keeps what was typed, and sends it when the connection is back.
      await page.getByRole('link', { name: 'Written while the network fails' }).click();
      await page.getByLabel('Add a comment').waitFor();
      await context.setOffline(true);
      await page.getByLabel('Add a comment').fill('Typed on the train.');
      await page.getByRole('button', { name: 'Comment', exact: true }).click();
      await page
        .getByText('You are offline. Your change is kept and will be sent when the connection is back…')
        .waitFor();
      await expectAccessible(page, 'offline banner');
      expect(await page.getByLabel('Add a comment').inputValue()).toBe('Typed on the train.');
      await context.setOffline(false);
      await page.getByTestId('comment').getByText('Typed on the train.').waitFor();
      await expect.poll(() => page.getByText(/You are offline/).count()).toBe(0);

      // Every write of this file carried a key; separate actions had separate keys.
      expect(writes.length).toBeGreaterThan(20);
      for (const write of writes) expect(write.key, `${write.method} ${write.url}`).toMatch(UUID);
      expect(new Set(writes.map((write) => write.key)).size).toBeGreaterThan(15);
    },
    STEP_TIMEOUT,
  );

  it(
    'a MEMBER sees groups and roles read-only and no trash',
    async () => {
      const { context: memberContext, page: member } = await newPage(browser);
      await member.goto(`${server.base}/app/login`);
      await member.getByLabel('E-mail').fill(mia.email);
      await member.getByLabel('Password').fill(PASSWORD);
      await member.getByRole('button', { name: 'Sign in' }).click();
      await member.getByRole('heading', { name: 'Hello, Mia' }).waitFor();
      expect(await member.getByRole('link', { name: 'Trash', exact: true }).count()).toBe(0);
      await member.goto(`${server.base}/app/trash`);
      await expect.poll(() => member.url()).toContain('/app/dashboard');
      // A custom role (which an OWNER may edit) is still read-only for her.
      await api('POST', '/roles/', { name: 'AUDITOR', title: 'Auditor', permissions: ['TASK_VIEW'] });
      await member.goto(`${server.base}/app/roles`);
      await member.getByTestId('role').filter({ hasText: 'Auditor' }).waitFor();
      expect(await member.getByRole('button', { name: /^(Edit|Delete) / }).count()).toBe(0);
      expect(await member.getByRole('button', { name: 'Create role' }).count()).toBe(0);
      await member.goto(`${server.base}/app/groups`);
      await member.getByRole('heading', { name: 'Groups', exact: true }).waitFor();
      expect(await member.getByRole('button', { name: 'Create group' }).count()).toBe(0);
      await memberContext.close();
    },
    STEP_TIMEOUT,
  );

  it(
    'every page works at 375 px: nothing wider than the screen, no serious axe violation',
    async () => {
      const phone = await newPage(browser, 375, 800);
      for (const [path, heading] of [
        ['login', 'Sign in'],
        ['signup', 'Create your company account'],
        ['forgot-password', 'Forgot your password?'],
        ['cc', 'Control center'],
        ['no-such-page', 'Page not found'],
      ] as const) {
        await phone.page.goto(`${server.base}/app/${path}`);
        await phone.page.getByRole('heading', { name: heading, exact: true }).waitFor();
        await expectNoSidewaysScroll(phone.page);
        await expectAccessible(phone.page, `${path} at 375 px`);
      }
      // The operators' page, signed in: the tenants table scrolls inside its region.
      await phone.page.goto(`${server.base}/app/cc`);
      await phone.page.getByLabel('Admin token (CC_ADMIN_TOKEN)').fill(TEST_ADMIN_TOKEN);
      await phone.page.getByRole('button', { name: 'Open the control center' }).click();
      await phone.page.getByTestId('tenant-row').first().waitFor();
      await expectNoSidewaysScroll(phone.page);
      await expectAccessible(phone.page, 'control center at 375 px');

      await signIn(phone.page);
      for (const [path, heading] of [
        ['dashboard', 'Hello, Ada'],
        ['tasks', 'Tasks'],
        ['board', 'Board'],
        ['calendar', 'Calendar'],
        ['lists', 'Lists'],
        ['tags', 'Tags'],
        ['users', 'People'],
        ['trash', 'Trash'],
        ['groups', 'Groups'],
        ['roles', 'Roles and permissions'],
        ['settings', 'Settings'],
      ] as const) {
        await phone.page.goto(`${server.base}/app/${path}`);
        await phone.page.getByRole('heading', { name: heading, exact: true }).waitFor();
        await expectNoSidewaysScroll(phone.page);
        await expectAccessible(phone.page, `${path} at 375 px`);
      }
      await screenshot(phone.page, 'settings-phone');
      await phone.context.close();
    },
    STEP_TIMEOUT,
  );
});
