/** Shapes of `/webhooks` (docs/integrations.md, "Webhooks"). */
import { type Static, Type } from 'typebox';
import { PageQuery } from '../auth/schemas.ts';

const Url = Type.String({
  minLength: 8,
  maxLength: 2000,
  pattern: '^https?://',
  examples: ['https://example.com/hooks/tenantry'],
});
const EventTypes = Type.Array(Type.String({ pattern: '^(\\*|[a-z]+\\.(\\*|[a-z_]+))$', maxLength: 64 }), {
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  description: '`*` (everything), `task.*` (every task event) or exact types like `task.created`',
  examples: [['task.*', 'comment.created']],
});
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const CreateWebhookBody = Type.Object(
  { url: Url, event_types: EventTypes },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const PatchWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    event_types: Type.Optional(EventTypes),
    enabled: Type.Optional(
      Type.Boolean({ description: 'true re-enables a disabled webhook: it resumes where it stopped' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchWebhookBody = Static<typeof PatchWebhookBody>;

const webhookFields = {
  uuid: Type.String(),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.String()),
  failing_since: Nullable(DateTime),
  created_at: DateTime,
  updated_at: DateTime,
};

export const WebhookBody = Type.Object(webhookFields);
export type WebhookBody = Static<typeof WebhookBody>;

export const CreatedWebhookBody = Type.Object({
  ...webhookFields,
  secret: Type.String({ description: 'Signs every delivery (Tenantry-Signature). Shown this once only.' }),
});

export const DeliveryBody = Type.Object({
  uuid: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  attempt: Type.Integer(),
  manual: Type.Boolean({ description: 'A redelivery asked for by hand' }),
  succeeded: Type.Boolean(),
  status_code: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  duration_ms: Type.Integer(),
  created_at: DateTime,
});
export type DeliveryBody = Static<typeof DeliveryBody>;

export const DeliveryQuery = Type.Object(
  { page: PageQuery.page, size: PageQuery.size },
  { additionalProperties: false },
);

export const DeliveryParams = Type.Object({
  uuid: Type.String({ format: 'uuid' }),
  delivery: Type.String({ format: 'uuid' }),
});
