/**
 * The warm pool of tenant schemas (src/tenancy/schema-pool.ts): one row per schema already migrated,
 * named `_pool_<hex>` (not a tenant id, so tenant lists, `db check` and the orphan report never see it),
 * waiting to be renamed to a new tenant's id. `revision` is the tenant head it was built at: only rows at
 * the running code's head are claimed.
 */
export const description = 'Warm pool of tenant schemas';
export const follows = '8c3e5a17d2b9';

export const up = `
CREATE TABLE public.schema_pool (
  schema     text PRIMARY KEY CHECK (schema ~ '^_pool_[0-9a-f]{16}$'),
  host       text NOT NULL,
  revision   text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX schema_pool_claim_idx ON public.schema_pool (host, revision, created_at);
`;

export const down = `
DO $$
DECLARE
  pooled text;
BEGIN
  FOR pooled IN SELECT schema FROM public.schema_pool WHERE host = 'default' LOOP
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', pooled);
  END LOOP;
END $$;

DROP TABLE public.schema_pool;
`;
