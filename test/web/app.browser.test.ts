/**
 * The web app in a real browser (Debian's Chromium via playwright-core) against the real server and
 * PostgreSQL: a company signs up and verifies from the outbox, creates lists and tasks, filters,
 * completes, reorders by drag and drop, comments, survives a network failure, invites a colleague who
 * accepts and sees only what a MEMBER may do; a second company sees none of it; an operator downgrades
 * a tenant, dry-runs and migrates it, runs a fleet migration and a drift check. axe-core checks the main
 * pages; screenshots go to reports/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 *
 * One file, steps in order: each builds on the one before, and one server and browser serve them all
 * (starting Chromium costs seconds on a busy machine).
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { mailTo, PASSWORD, uniqueEmail } from '../accounts/helpers.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/core.ts';
import {
  expectAccessible,
  expectNoSidewaysScroll,
  launchBrowser,
  newPage as newPageOf,
  screenshot,
  startServer,
  type WebServer,
} from './browser.ts';

const STEP_TIMEOUT = 60_000;
let server: WebServer;
let browser: Browser;
let owner: Page;
const ownerEmail = uniqueEmail('ada');
let firstTaskUrl = '';

function linkIn(text: string, kind: string): string {
  const match = new RegExp(`(https?://\\S+/${kind}/\\S+)`).exec(text);
  if (!match) throw new Error(`no ${kind} link in ${text}`);
  return match[1]!;
}

const newPage = (width?: number, height?: number) => newPageOf(browser, width, height);

async function taskTitles(page: Page): Promise<string[]> {
  await page.getByTestId('task').first().waitFor();
  return page.getByTestId('task').locator('.title a').allTextContents();
}

async function signUp(page: Page, company: string, first: string, email: string) {
  await page.goto(`${server.base}/app/signup`);
  await page.getByLabel('Company name').fill(company);
  await page.getByLabel('First name').fill(first);
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('Work e-mail').fill(email);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByLabel('I accept the terms of service').check();
}

describe('the web app in Chromium', () => {
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    ({ page: owner } = await newPage());
  }, 300_000);

  it(
    'a company signs up, sees "check your e-mail", and the link in the e-mail opens its dashboard',
    async () => {
      // A browser at / lands in the app, on the sign-in page.
      await owner.goto(`${server.base}/`);
      await expect.poll(() => owner.url()).toContain('/app/login');
      await expectAccessible(owner, 'login');
      await screenshot(owner, 'login');

      await signUp(owner, 'Acme Widgets', 'Ada', 'not-an-email');
      await owner.getByLabel('Work e-mail').evaluate((input) => input.removeAttribute('type'));
      await owner.getByRole('button', { name: 'Create account' }).click();
      // The API's field error shows next to its field.
      await expect
        .poll(() => owner.locator('.field-error').allTextContents())
        .toEqual([expect.stringMatching(/email/i)]);

      await owner.getByLabel('Work e-mail').fill(ownerEmail);
      await expectAccessible(owner, 'signup');
      await screenshot(owner, 'signup');
      await owner.getByRole('button', { name: 'Create account' }).click();
      await owner.getByRole('heading', { name: 'Check your e-mail' }).waitFor();
      await expect(owner.getByText(ownerEmail)).toBeTruthy();

      const mail = await mailTo(server.outbox, ownerEmail, /Confirm/);
      await owner.goto(server.link(linkIn(mail.text, 'verify-email')));
      await owner.getByRole('heading', { name: 'Hello, Ada' }).waitFor();
      expect(owner.url()).toContain('/app/dashboard');
    },
    STEP_TIMEOUT,
  );

  it(
    'creates lists and tasks, filters, completes and reorders them',
    async () => {
      await owner.getByRole('link', { name: 'Lists', exact: true }).click();
      for (const name of ['Launch', 'Backlog']) {
        await owner.getByLabel('New list').fill(name);
        await owner.getByRole('button', { name: 'Create list' }).click();
        await owner.getByRole('link', { name }).waitFor();
      }
      await expectAccessible(owner, 'lists');

      await owner.getByRole('link', { name: 'Launch' }).click();
      for (const title of ['Write the release notes', 'Ship it', 'Celebrate']) {
        await owner.getByLabel(/^New task in Launch/).fill(title);
        await owner.getByRole('button', { name: 'Add', exact: true }).click();
        await owner.getByRole('link', { name: title }).waitFor();
      }
      expect(await taskTitles(owner)).toEqual(['Write the release notes', 'Ship it', 'Celebrate']);

      // Search narrows the list (and lands in the address, so a reload keeps it).
      await owner.getByLabel('Search').fill('ship');
      await expect.poll(() => owner.getByTestId('task').count()).toBe(1);
      expect(owner.url()).toContain('search=ship');
      await owner.reload();
      expect(await taskTitles(owner)).toEqual(['Ship it']);
      await owner.getByLabel('Search').fill('');
      await expect.poll(() => owner.getByTestId('task').count()).toBe(3);

      // Drag "Celebrate" onto the first task: it takes that place, and the server keeps the order.
      const handles = owner.getByTestId('task');
      await handles.nth(2).dragTo(handles.nth(0));
      await owner.getByText('Moved “Celebrate” to position 1').waitFor();
      await expect.poll(() => taskTitles(owner)).toEqual(['Celebrate', 'Write the release notes', 'Ship it']);
      // The keyboard does the same through the handle.
      await owner.getByRole('button', { name: 'Reorder Ship it' }).focus();
      await owner.keyboard.press('ArrowUp');
      await owner.getByText('Moved “Ship it” to position 2').waitFor();
      await expect.poll(() => taskTitles(owner)).toEqual(['Celebrate', 'Ship it', 'Write the release notes']);
      await owner.reload();
      expect(await taskTitles(owner)).toEqual(['Celebrate', 'Ship it', 'Write the release notes']);

      // Done: it leaves the open tasks, and shows under "Done".
      await owner.getByLabel('Done: Celebrate').check();
      await owner.getByText('Completed “Celebrate”').waitFor();
      await owner.getByLabel('Status').selectOption('done');
      await expect.poll(() => taskTitles(owner)).toEqual(['Celebrate']);
      await owner.getByLabel('Status').selectOption('open');
      await expect.poll(() => taskTitles(owner)).toEqual(['Ship it', 'Write the release notes']);
      await expectAccessible(owner, 'tasks');
      await screenshot(owner, 'tasks');
    },
    STEP_TIMEOUT,
  );

  it(
    'comments on a task and shows it in the timeline',
    async () => {
      await owner.getByRole('link', { name: 'Ship it' }).click();
      await owner.getByRole('heading', { name: 'Ship it' }).waitFor();
      firstTaskUrl = owner.url();
      await owner.getByLabel('Add a comment').fill('Waiting for the release notes.');
      await owner.getByRole('button', { name: 'Comment' }).click();
      await owner.getByTestId('comment').getByText('Waiting for the release notes.').waitFor();
      await owner.getByText('Ada Lovelace commented').waitFor();
      await owner.getByLabel('Priority').selectOption('high');
      await owner.getByRole('button', { name: 'Save', exact: true }).click();
      await owner.getByText('Ada Lovelace changed the priority').waitFor();
      await expectAccessible(owner, 'task');
      await screenshot(owner, 'task');

      await owner.getByRole('link', { name: 'Dashboard', exact: true }).click();
      await owner.getByRole('heading', { name: /Done per day/ }).waitFor();
      await expect
        .poll(() => owner.getByRole('heading', { name: /Done per day/ }).textContent())
        .toContain('14 days: 1');
      await expectAccessible(owner, 'dashboard');
      await screenshot(owner, 'dashboard');
    },
    STEP_TIMEOUT,
  );

  it(
    'says so when the server cannot be reached, and retries',
    async () => {
      let failures = 0;
      await owner.route(/\/tasks\/\?/, async (route) => {
        if (failures++ < 2) return route.abort('internetdisconnected');
        return route.continue();
      });
      await owner.getByRole('link', { name: 'Tasks', exact: true }).click();
      await owner.getByText(/Cannot reach the server; retrying/).waitFor();
      await owner.getByRole('link', { name: 'Ship it' }).waitFor();
      await expect.poll(() => owner.getByText(/Cannot reach the server/).count()).toBe(0);
      await owner.unroute(/\/tasks\/\?/);
    },
    STEP_TIMEOUT,
  );

  it(
    'invites a colleague who accepts and sees only what a MEMBER may do',
    async () => {
      const email = uniqueEmail('mia');
      await owner.getByRole('link', { name: 'People', exact: true }).click();
      await owner.getByLabel('E-mail').fill(email);
      await owner.getByLabel('First name').fill('Mia');
      await owner.getByLabel('Last name').fill('Member');
      await owner.getByLabel('Role').selectOption({ label: 'Member' });
      await owner.getByRole('button', { name: 'Send invitation' }).click();
      await owner.getByText(`Invitation sent to ${email}`).waitFor();
      await expectAccessible(owner, 'people');
      await screenshot(owner, 'people');
      await owner.getByRole('link', { name: 'Settings', exact: true }).click();
      await owner.getByRole('heading', { name: 'People and access' }).waitFor();
      await expectAccessible(owner, 'settings');

      const mail = await mailTo(server.outbox, email, /invited/);
      const { context, page: member } = await newPage(375, 800);
      await member.goto(server.link(linkIn(mail.text, 'accept-invite')));
      await member.getByLabel('Password').fill(PASSWORD);
      await member.getByRole('button', { name: 'Join' }).click();
      await member.getByRole('heading', { name: 'Hello, Mia' }).waitFor();

      // A phone: the menu folds away, and nothing is wider than the screen.
      await member.getByRole('button', { name: 'Menu' }).click();
      await member.getByRole('link', { name: 'Tasks', exact: true }).click();
      await member.getByRole('link', { name: 'Ship it' }).waitFor();
      await expectNoSidewaysScroll(member);
      await screenshot(member, 'tasks-phone');
      // MEMBER: tasks yes (add, edit), no export; lists and tags are read-only; no trash button.
      await member.getByLabel(/^New task/).waitFor();
      expect(await member.getByRole('button', { name: 'Export CSV' }).count()).toBe(0);
      await member.getByRole('link', { name: 'Ship it' }).click();
      await member.getByRole('button', { name: 'Save', exact: true }).waitFor();
      expect(await member.getByRole('button', { name: 'Move to trash' }).count()).toBe(0);
      await member.goto(`${server.base}/app/lists`);
      await member.getByRole('link', { name: 'Launch' }).waitFor();
      expect(await member.getByLabel('New list').count()).toBe(0);
      expect(await member.getByRole('button', { name: /^Archive/ }).count()).toBe(0);
      await member.goto(`${server.base}/app/users`);
      await member.getByRole('cell', { name: 'Mia Member' }).waitFor();
      expect(await member.getByRole('button', { name: 'Send invitation' }).count()).toBe(0);
      expect(await member.getByRole('button', { name: /^Deactivate/ }).count()).toBe(0);
      await context.close();
    },
    STEP_TIMEOUT,
  );

  it(
    'a second company sees none of it',
    async () => {
      const { context, page } = await newPage();
      const email = uniqueEmail('bob');
      await signUp(page, 'Globex', 'Bob', email);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Check your e-mail' }).waitFor();
      await page.goto(
        server.link(linkIn((await mailTo(server.outbox, email, /Confirm/)).text, 'verify-email')),
      );
      await page.getByRole('heading', { name: 'Hello, Bob' }).waitFor();
      await page.goto(`${server.base}/app/tasks?status=all`);
      await page.getByText('No tasks match').waitFor();
      await page.goto(`${server.base}/app/lists`);
      await page.getByText('No lists yet').waitFor();
      // Acme's task by its address: not found, in the API's words.
      await page.goto(firstTaskUrl);
      await page
        .getByRole('alert')
        .filter({ hasText: /not found/i })
        .waitFor();
      expect(await page.getByText('Ship it').count()).toBe(0);
      await context.close();
    },
    STEP_TIMEOUT,
  );

  it(
    'signs out, and a wrong password is said in the API\u2019s words',
    async () => {
      await owner.getByRole('button', { name: 'Sign out', exact: true }).click();
      await owner.getByRole('heading', { name: 'Sign in' }).waitFor();
      await owner.goto(`${server.base}/app/tasks`);
      await expect.poll(() => owner.url()).toContain('/app/login?next=');
      await owner.getByLabel('E-mail').fill(ownerEmail);
      await owner.getByLabel('Password').fill('wrong password!');
      await owner.getByRole('button', { name: 'Sign in' }).click();
      await owner.getByRole('alert').waitFor();
      await owner.getByLabel('Password').fill(PASSWORD);
      await owner.getByLabel('Remember me for 30 days').check();
      await owner.getByRole('button', { name: 'Sign in' }).click();
      await owner.getByRole('heading', { name: 'Tasks' }).waitFor();
    },
    STEP_TIMEOUT,
  );

  it(
    'an operator downgrades a tenant, dry-runs its migration, migrates it, and runs the fleet',
    async () => {
      const { context, page } = await newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      await page.goto(`${server.base}/app/cc`);
      await page.getByLabel('Admin token (CC_ADMIN_TOKEN)').fill('wrong-token-0123456789');
      await page.getByRole('button', { name: 'Open the control center' }).click();
      await page.getByRole('alert').waitFor();
      await page.getByLabel('Admin token (CC_ADMIN_TOKEN)').fill(TEST_ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Open the control center' }).click();
      await page.getByTestId('tenant-row').first().waitFor();

      // The database hosts table lists the default host with its tenants (the companies signed up above).
      const hostsTable = page.getByRole('region', { name: 'Database hosts' });
      const defaultHost = hostsTable
        .getByTestId('host-row')
        .filter({ has: page.getByRole('cell', { name: 'default', exact: true }) });
      await defaultHost.waitFor();
      const tenantsOnDefault = async () => Number(await defaultHost.locator('td').nth(1).textContent());
      const before = await tenantsOnDefault();
      expect(before).toBeGreaterThanOrEqual(2);
      expect(await defaultHost.locator('td').nth(6).textContent()).toBe('yes');

      // The host is optional: the preselected choice leaves it to TENANT_PLACEMENT and sends no host.
      const hostSelect = page.getByLabel('Host', { exact: true });
      expect(await hostSelect.inputValue()).toBe('');
      expect(await hostSelect.locator('option').allTextContents()).toEqual([
        'Placement policy (default)',
        'default',
      ]);
      await page.getByLabel('Company name').fill('Bakery');
      await page.getByLabel('Tenant id (optional)').fill('bakery');
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await page.getByRole('heading', { name: 'Created bakery' }).waitFor();
      // The server says `named` when the request carries a host: `policy default` means none was sent.
      await page.getByTestId('migration-result').getByText('Placed on default (policy default)').waitFor();
      // Refreshed after the create: one more tenant on the default host.
      await expect.poll(tenantsOnDefault).toBe(before + 1);
      await page.getByLabel('Search tenants').fill('bakery');
      await expect.poll(() => page.getByTestId('tenant-row').count()).toBe(1);
      const row = page.getByTestId('tenant-row');

      await page.getByRole('button', { name: 'Downgrade bakery' }).click();
      await page.getByRole('heading', { name: 'Downgraded bakery' }).waitFor();
      await expect.poll(() => row.locator('td').nth(5).textContent()).toBe('1');

      await page.getByRole('button', { name: 'Dry run bakery' }).click();
      await page.getByRole('heading', { name: 'Dry run of bakery' }).waitFor();
      const dryRun = page.getByTestId('migration-result');
      expect(await dryRun.locator('li').count()).toBe(1);
      // A dry run changes nothing: still one behind.
      expect(await row.locator('td').nth(5).textContent()).toBe('1');

      await page.getByRole('button', { name: 'Migrate bakery' }).click();
      await page.getByRole('heading', { name: 'Migrated bakery' }).waitFor();
      await expect.poll(() => row.locator('td').nth(5).textContent()).toBe('0');
      expect(await dryRun.locator('li').count()).toBe(1);

      await page.getByRole('button', { name: 'Migrate all tenants' }).click();
      await page
        .getByTestId('fleet-job')
        .getByText(/\(succeeded\)/)
        .waitFor();
      await page
        .getByTestId('fleet-job')
        .getByText(/0 failed/)
        .waitFor();
      await page.getByRole('button', { name: 'Check drift' }).click();
      await page
        .getByTestId('drift')
        .getByText(/0 drifted/)
        .waitFor();
      await expectAccessible(page, 'control center');
      await screenshot(page, 'control-center');
      await context.close();
    },
    STEP_TIMEOUT,
  );
});
