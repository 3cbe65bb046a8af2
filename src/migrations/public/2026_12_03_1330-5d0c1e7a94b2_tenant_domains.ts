/**
 * Tenant domains (issue 21): the Host names a request may use instead of the `tenant` header
 * (`acme.example.com`, or `acme.<TENANT_BASE_DOMAIN>`). A domain belongs to at most one tenant (primary
 * key) and goes with its tenant (ON DELETE CASCADE). The application normalises and validates domains
 * (src/tenancy/domain-name.ts: IDNA via url.domainToASCII, RFC 1123 labels, no IP literals); the CHECK
 * repeats the shape so no other writer can store a domain routing would never match.
 */
import { sql } from 'kysely';
import type { MigrationFunction } from '../migration-set.ts';

export const description = 'Tenant domains for routing by Host';
export const follows = '0a06f682cfbb';

export const up: MigrationFunction = async (db) => {
  await sql`
    CREATE TABLE tenant_domains (
      domain     text PRIMARY KEY CHECK (
                   length(domain) BETWEEN 1 AND 253
                   AND domain ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$'
                 ),
      tenant_id  text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX tenant_domains_tenant_idx ON tenant_domains (tenant_id, domain)`.execute(db);
};

export const down: MigrationFunction = async (db) => {
  await sql`DROP TABLE tenant_domains`.execute(db);
};
