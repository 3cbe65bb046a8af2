/**
 * The rules of `/webhooks`: URLs checked against their DNS answers (address-guard.ts), a secret made
 * here and shown once, a new webhook starting at the feed's head (it gets what happens from now on), a
 * re-enabled one resuming where it stopped. SQL is Kysely on the tenant's schema-bound handle.
 */
import type { Selectable } from 'kysely';
import { problems } from '../../http/problem.ts';
import { type Page, pageOf } from '../auth/schemas.ts';
import { checkedAddresses, RefusedAddressError } from './address-guard.ts';
import type { CreateWebhookBody, DeliveryBody, PatchWebhookBody, WebhookBody } from './schemas.ts';
import { newWebhookSecret } from './signature.ts';
import type { WebhookDb, WebhooksTable } from './tables.ts';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function view(row: Selectable<WebhooksTable>): WebhookBody {
  return {
    uuid: row.uuid,
    url: row.url,
    event_types: row.event_types,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    failing_since: iso(row.failing_since),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export class WebhooksService {
  constructor(
    private readonly db: WebhookDb,
    private readonly allowPrivate: boolean,
  ) {}

  /** 422 for a URL with credentials or one resolving to an internal address (or not resolving). */
  private async checkUrl(raw: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw problems.unprocessable('Not a URL', [{ path: '/body/url', message: 'not a URL' }]);
    }
    if (url.username || url.password) {
      throw problems.unprocessable('No credentials in webhook URLs', [
        { path: '/body/url', message: 'credentials in the URL; the signature authenticates us' },
      ]);
    }
    try {
      await checkedAddresses(url.hostname, this.allowPrivate);
    } catch (error) {
      const message =
        error instanceof RefusedAddressError ? error.message : `${url.hostname} does not resolve`;
      throw problems.unprocessable('The webhook URL is refused', [{ path: '/body/url', message }]);
    }
  }

  private async row(uuid: string): Promise<Selectable<WebhooksTable>> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    if (!row) throw problems.notFound('webhook', uuid);
    return row;
  }

  async create(input: CreateWebhookBody, actorId: string): Promise<WebhookBody & { secret: string }> {
    await this.checkUrl(input.url);
    const secret = newWebhookSecret();
    const row = await this.db
      .insertInto('webhooks')
      .values((eb) => ({
        url: input.url,
        event_types: input.event_types,
        secret,
        created_by: actorId,
        delivered_through: eb.selectFrom('change_head').select('last_id'),
      }))
      .returningAll()
      .executeTakeFirstOrThrow();
    return { ...view(row), secret };
  }

  async page(page: number, size: number): Promise<Page<WebhookBody>> {
    const rows = await this.db
      .selectFrom('webhooks')
      .selectAll()
      .orderBy('id')
      .offset((page - 1) * size)
      .limit(size)
      .execute();
    const { n } = await this.db
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return pageOf(rows.map(view), Number(n), page, size);
  }

  async get(uuid: string): Promise<WebhookBody> {
    return view(await this.row(uuid));
  }

  async patch(uuid: string, input: PatchWebhookBody): Promise<WebhookBody> {
    if (input.url !== undefined) await this.checkUrl(input.url);
    const row = await this.db
      .updateTable('webhooks')
      .set({
        ...(input.url === undefined ? {} : { url: input.url }),
        ...(input.event_types === undefined ? {} : { event_types: input.event_types }),
        // Enabling again starts a fresh retry window at the event where it stopped.
        ...(input.enabled === undefined
          ? {}
          : input.enabled
            ? { enabled: true, disabled_reason: null, attempts: 0, failing_since: null }
            : { enabled: false, disabled_reason: 'disabled by a user' }),
        updated_at: new Date(),
      })
      .where('uuid', '=', uuid)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw problems.notFound('webhook', uuid);
    return view(row);
  }

  async remove(uuid: string): Promise<void> {
    const gone = await this.db.deleteFrom('webhooks').where('uuid', '=', uuid).executeTakeFirst();
    if (gone.numDeletedRows === 0n) throw problems.notFound('webhook', uuid);
  }

  async deliveries(uuid: string, page: number, size: number): Promise<Page<DeliveryBody>> {
    const hook = await this.row(uuid);
    const rows = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', hook.id)
      .orderBy('id', 'desc')
      .offset((page - 1) * size)
      .limit(size)
      .execute();
    const { n } = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('webhook_id', '=', hook.id)
      .executeTakeFirstOrThrow();
    const items = rows.map((row) => ({
      uuid: row.uuid,
      event_id: row.event_id,
      event_type: row.event_type,
      attempt: row.attempt,
      manual: row.manual,
      succeeded: row.succeeded,
      status_code: row.status_code,
      error: row.error,
      duration_ms: row.duration_ms,
      created_at: row.created_at.toISOString(),
    }));
    return pageOf(items, Number(n), page, size);
  }

  /** The delivery must be this webhook's (404 otherwise). */
  async assertDelivery(uuid: string, delivery: string): Promise<void> {
    const found = await this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select('d.id')
      .where('w.uuid', '=', uuid)
      .where('d.uuid', '=', delivery)
      .executeTakeFirst();
    if (!found) throw problems.notFound('delivery', delivery);
  }
}
