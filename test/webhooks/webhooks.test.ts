/**
 * Signed webhooks against a real local HTTP receiver, delivered by the real job runner of the app:
 * signatures verify with the secret shown once; a burst of changes arrives in feed order; a receiver
 * that is down and comes back gets everything (retries logged, then success), a logged delivery can be
 * sent again by hand (same event id); a receiver failing past WEBHOOK_GIVE_UP_S disables the webhook and
 * mails the owners; internal addresses are refused unless WEBHOOK_ALLOW_PRIVATE.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.ts';
import { checkedAddresses, isInternalAddress } from '../../src/routes/webhooks/address-guard.ts';
import { send } from '../../src/routes/webhooks/delivery.ts';
import { verifySignature } from '../../src/routes/webhooks/signature.ts';
import { webhookDb } from '../../src/routes/webhooks/tables.ts';
import { WebhooksService } from '../../src/routes/webhooks/webhooks-service.ts';
import { mailTo } from '../accounts/helpers.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { type Call, caller, createTask, ok, type PageJson } from '../todo/support.ts';

const context = await usersApp({
  env: {
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_FIRST_MS: '100',
    WEBHOOK_GIVE_UP_S: '3',
    JOBS_POLL_INTERVAL_MS: '100',
  },
});
const { app } = context;
let users: TenantUsers;
let owner: Call;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver answering `status()` to every POST, recording what it accepted (2xx) and all it got. */
async function receiver(status: () => number) {
  const accepted: Received[] = [];
  const all: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const code = status();
      all.push({ headers: request.headers, body });
      if (code < 300) accepted.push({ headers: request.headers, body });
      response.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, accepted, all, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface WebhookJson {
  uuid: string;
  secret?: string;
  enabled: boolean;
  disabled_reason: string | null;
}

interface DeliveryJson {
  uuid: string;
  event_id: string;
  succeeded: boolean;
  status_code: number | null;
  manual: boolean;
}

describe('webhooks', () => {
  it('delivers signed events in feed order; the secret is shown once', async () => {
    const hook = await receiver(() => 200);
    const created = await ok<WebhookJson>(
      owner('POST', '/webhooks', { url: hook.url, event_types: ['task.*'] }),
      201,
    );
    expect(created.secret).toMatch(/^whsec_/);
    const read = await ok<WebhookJson>(owner('GET', `/webhooks/${created.uuid}`));
    expect(read).not.toHaveProperty('secret');

    const titles = Array.from({ length: 12 }, (_, i) => `burst ${i}`);
    await Promise.all(titles.map((title) => createTask(owner, { title })));
    await ok(owner('POST', '/tags/', { name: 'not subscribed' }), 201);
    await until('12 deliveries', () => hook.accepted.length >= 12);
    const events = hook.accepted.map(
      (r) => JSON.parse(r.body) as { id: string; type: string; data: { title: string } },
    );
    for (const r of hook.accepted) {
      expect(verifySignature(created.secret!, r.body, String(r.headers['tenantry-signature']))).toBe(true);
      expect(verifySignature('whsec_wrong', r.body, String(r.headers['tenantry-signature']))).toBe(false);
      expect(r.headers['tenantry-event-id']).toBe(JSON.parse(r.body).id);
    }
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.every((e) => e.type === 'task.created')).toBe(true);
    expect(events.map((e) => e.data.title).sort()).toEqual([...titles].sort());
    await ok(owner('DELETE', `/webhooks/${created.uuid}`), 204);
  });

  it('retries a receiver that is down until it is back, logs every attempt, and redelivers by hand', async () => {
    let up = false;
    const hook = await receiver(() => (up ? 200 : 503));
    const created = await ok<WebhookJson>(
      owner('POST', '/webhooks', { url: hook.url, event_types: ['*'] }),
      201,
    );
    const first = await createTask(owner, { title: 'while down' });
    await createTask(owner, { title: 'queued behind it' });
    await until('three failed attempts', () => hook.all.length >= 3);
    expect(hook.accepted).toEqual([]);
    up = true;
    await until('both delivered', () => hook.accepted.length >= 2);
    const delivered = hook.accepted.map((r) => JSON.parse(r.body) as { data: { title: string } });
    expect(delivered.map((e) => e.data.title)).toEqual(['while down', 'queued behind it']);

    const log = await ok<PageJson<DeliveryJson>>(owner('GET', `/webhooks/${created.uuid}/deliveries`));
    expect(log.items.filter((d) => !d.succeeded).length).toBeGreaterThanOrEqual(3);
    expect(log.items.filter((d) => !d.succeeded).every((d) => d.status_code === 503)).toBe(true);
    const success = log.items.find(
      (d) => d.succeeded && JSON.parse(hook.accepted[0]!.body).id === d.event_id,
    );
    expect(success).toBeDefined();
    await ok(owner('POST', `/webhooks/${created.uuid}/deliveries/${success!.uuid}/redeliver`), 202);
    await until('the redelivery', () => hook.accepted.length >= 3);
    expect(JSON.parse(hook.accepted[2]!.body)).toMatchObject({ id: success!.event_id, key: first.uuid });
    await until('the manual entry in the log', async () =>
      (await ok<PageJson<DeliveryJson>>(owner('GET', `/webhooks/${created.uuid}/deliveries`))).items.some(
        (d) => d.manual,
      ),
    );
    await ok(owner('DELETE', `/webhooks/${created.uuid}`), 204);
  });

  it('disables a webhook that keeps failing past the give-up time and mails the owners', async () => {
    const hook = await receiver(() => 500);
    const created = await ok<WebhookJson>(
      owner('POST', '/webhooks', { url: hook.url, event_types: ['task.created'] }),
      201,
    );
    await createTask(owner, { title: 'never accepted' });
    const disabled = await until('the webhook disabled', async () => {
      const read = await ok<WebhookJson>(owner('GET', `/webhooks/${created.uuid}`));
      return read.enabled ? undefined : read;
    });
    expect(disabled.disabled_reason).toMatch(/failing since .* HTTP 500/);
    const mail = await mailTo(context.outbox, users.owner.email, /Webhook disabled/);
    expect(mail.text).toContain(created.uuid);
    const attempts = hook.all.length;
    await createTask(owner, { title: 'after disabling' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hook.all.length).toBe(attempts);
  });

  it('refuses internal addresses unless WEBHOOK_ALLOW_PRIVATE, at creation and at delivery', async () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ]) {
      expect(isInternalAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111'])
      expect(isInternalAddress(address), address).toBe(false);
    await expect(checkedAddresses('localhost', false)).rejects.toThrow(/internal address/);
    await expect(checkedAddresses('localhost', true)).resolves.not.toHaveLength(0);

    const strict = new WebhooksService(webhookDb(app.core.hosts.db().withSchema(users.tenant)), false);
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://localhost/hook',
      'http://[::1]/hook',
      'http://169.254.169.254/latest',
    ]) {
      await expect(strict.create({ url, event_types: ['*'] }, users.owner.uuid), url).rejects.toMatchObject({
        status: 422,
      });
    }
    const hook = await receiver(() => 200);
    const config: Config = { ...app.core.config, webhookAllowPrivate: false };
    const event = {
      id: '1',
      type: 'task.created',
      entity: 'task',
      key: 'k',
      action: 'created',
      actor_uuid: null,
      occurred_at: '',
      before: null,
      after: null,
      data: null,
    };
    const refused = await send(config, { url: hook.url, secret: 's' }, users.tenant, event);
    expect(refused).toMatchObject({
      ok: false,
      status: null,
      error: expect.stringMatching(/internal address/),
    });
    expect(hook.all).toEqual([]);
    // Through the API, the member (no WEBHOOK_MANAGE) is refused.
    expect((await caller(app, users.member)('GET', '/webhooks')).statusCode).toBe(403);
  });
});
