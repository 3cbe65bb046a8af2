/**
 * A tenant downgraded on purpose stays at its revision: `pinned_at` is set by `tenantry db downgrade` and
 * cleared by an explicit `tenantry db upgrade` of that tenant. While it is set, neither the server
 * (on-demand and start-up upgrades) nor a fleet upgrade that does not name the tenant migrates it.
 */
export const description = 'Tenants pinned at their revision after a deliberate downgrade';
export const follows = '5f0c2a9e71d4';

export const up = `
ALTER TABLE tenants ADD COLUMN pinned_at timestamptz;
`;

export const down = `
ALTER TABLE tenants DROP COLUMN pinned_at;
`;
