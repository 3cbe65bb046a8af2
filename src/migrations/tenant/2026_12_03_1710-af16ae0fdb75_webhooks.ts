/**
 * Signed webhooks (issue 19): subscriptions to the change feed and their delivery log, and the
 * WEBHOOK_MANAGE permission for the OWNER and ADMIN roles.
 *
 * A webhook is a consumer of the feed with its own cursor (`delivered_through`, the last event it is
 * done with): deliveries go in feed order, one at a time per webhook (src/routes/webhooks/delivery.ts).
 * The secret is kept as given out (it signs every delivery, so it cannot be a hash); the API shows it
 * once. `failing_since`/`attempts` describe the event at the cursor while it keeps failing.
 */
export const description = 'Webhooks, their deliveries and the WEBHOOK_MANAGE permission';
export const follows = '549b9b3f0a9b';

export const up = `
INSERT INTO permissions (name, title) VALUES ('WEBHOOK_MANAGE', 'Manage webhooks');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE r.name IN ('OWNER', 'ADMIN') AND p.name = 'WEBHOOK_MANAGE';

CREATE TABLE webhooks (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid              uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  url               text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
  event_types       text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50),
  secret            text NOT NULL,
  enabled           boolean NOT NULL DEFAULT true,
  disabled_reason   text,
  delivered_through bigint NOT NULL,
  attempts          integer NOT NULL DEFAULT 0,
  failing_since     timestamptz,
  created_by        bigint REFERENCES users (id),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  webhook_id  bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_id    bigint NOT NULL,
  event_type  text NOT NULL,
  attempt     integer NOT NULL,
  manual      boolean NOT NULL DEFAULT false,
  succeeded   boolean NOT NULL,
  status_code integer,
  error       text,
  duration_ms integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
`;

export const down = `
DROP TABLE webhook_deliveries;

DROP TABLE webhooks;

DELETE FROM role_permissions
WHERE permission_id = (SELECT id FROM permissions WHERE name = 'WEBHOOK_MANAGE');

DELETE FROM permissions WHERE name = 'WEBHOOK_MANAGE';
`;
