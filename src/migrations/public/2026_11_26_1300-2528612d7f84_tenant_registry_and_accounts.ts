/**
 * The shared schema: the tenant registry (which schema lives on which host, its migration state) and the
 * account directory (e-mail → tenant) used for unified login and cross-tenant e-mail uniqueness.
 */
export const description = 'Tenant registry and account directory';
export const follows = null;

export const up = `
CREATE TABLE tenants (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid             uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  tenant_id        text NOT NULL UNIQUE CHECK (tenant_id ~ '^[a-z][a-z0-9_]{0,62}$'),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  host             text NOT NULL DEFAULT 'default',
  status           text NOT NULL DEFAULT 'provisioning'
                   CHECK (status IN ('provisioning', 'active', 'suspended', 'deleting')),
  revision         text,
  migration_status text NOT NULL DEFAULT 'pending' CHECK (migration_status IN ('ok', 'failed', 'pending')),
  migration_error  text,
  migrated_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);

CREATE INDEX tenants_host_idx ON tenants (host, tenant_id);

CREATE TABLE accounts (
  email      text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
  tenant_id  text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  user_uuid  uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (email)
);

CREATE INDEX accounts_tenant_idx ON accounts (tenant_id, user_uuid);
`;

export const down = `
DROP TABLE accounts;

DROP TABLE tenants;
`;
