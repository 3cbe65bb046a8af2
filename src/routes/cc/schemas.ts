/**
 * HTTP shapes of the control center (SPEC 6). Bodies refuse unknown properties; tenant ids carry the
 * SPEC 6 pattern so OpenAPI documents them (reserved names are refused by the handlers, still 400).
 */
import { type Static, Type } from 'typebox';
import { TENANT_ID_PATTERN } from '../../tenancy/tenant-id.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const TenantIdParam = Type.String({
  pattern: TENANT_ID_PATTERN.source,
  maxLength: 63,
  description: 'Tenant id (= schema name): ^[a-z][a-z0-9_]{0,62}$, not public, pg_*, or reserved',
});

/** Path parameter objects: canonical routes use `id`, the predecessor's aliases `tenant_id`. */
export const IdParams = Type.Object({ id: TenantIdParam });
export const LegacyIdParams = Type.Object({ tenant_id: TenantIdParam });

const Revision = Type.String({
  minLength: 1,
  maxLength: 40,
  description: 'head, base, or 4-12 hex characters of a revision id',
});

export const TenantViewSchema = Type.Object({
  tenant_id: Type.String(),
  uuid: Type.String(),
  name: Type.String(),
  host: Type.String({ description: 'Database host (key of TENANT_DATABASE_URLS, or default)' }),
  domains: Type.Array(Type.String(), { description: 'Host names that route to this tenant (issue 21)' }),
  status: Type.Union([
    Type.Literal('provisioning'),
    Type.Literal('active'),
    Type.Literal('suspended'),
    Type.Literal('deleting'),
  ]),
  revision: Nullable(Type.String()),
  head: Nullable(Type.String()),
  behind: Nullable(
    Type.Integer({
      description:
        'Revisions between the recorded revision and head; null when the revision is unknown to this code (the database is newer than the code)',
    }),
  ),
  migration_status: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('pending')]),
  migration_error: Nullable(Type.String()),
  pinned: Type.Boolean({
    description: 'Downgraded on purpose: not upgraded automatically until an explicit upgrade (migrate)',
  }),
  migrated_at: Nullable(Type.String({ format: 'date-time' })),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type TenantView = Static<typeof TenantViewSchema>;

export const HistoryEntrySchema = Type.Object({
  revision: Type.String(),
  name: Type.String(),
  description: Type.String(),
  applied: Type.Boolean(),
  applied_at: Nullable(Type.String({ format: 'date-time' })),
  duration_ms: Nullable(Type.Integer()),
  /** null when not applied or applied without a checksum (stamped). */
  checksum_ok: Nullable(Type.Boolean()),
});
export type HistoryEntry = Static<typeof HistoryEntrySchema>;

export const TenantDetailSchema = Type.Intersect([
  TenantViewSchema,
  Type.Object({ history: Type.Array(HistoryEntrySchema) }),
]);
export type TenantDetail = Static<typeof TenantDetailSchema>;

export const TenantPageSchema = Type.Object({
  items: Type.Array(TenantViewSchema),
  total: Type.Integer(),
  page: Type.Integer(),
  size: Type.Integer(),
  pages: Type.Integer(),
});
export type Paginated<T> = { items: T[]; total: number; page: number; size: number; pages: number };

export const ListQuery = Type.Object({
  page: Type.Integer({ minimum: 1, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  search: Type.Optional(Type.String({ maxLength: 100 })),
});

export const StepSchema = Type.Object({
  revision: Type.String(),
  name: Type.String(),
  description: Type.String(),
  duration_ms: Type.Integer(),
});

/** One schema's upgrade or downgrade; `steps` are the applied (or, in a dry run, would-apply) revisions. */
export const RunViewSchema = Type.Object({
  tenant_id: Type.String(),
  dry_run: Type.Boolean(),
  from: Nullable(Type.String()),
  to: Nullable(Type.String()),
  steps: Type.Array(StepSchema),
  duration_ms: Type.Integer(),
});
export type RunView = Static<typeof RunViewSchema>;

/** A tenant domain as typed: normalised and validated by the handler (src/tenancy/domain-name.ts). */
const DomainInput = Type.String({
  minLength: 1,
  maxLength: 300,
  description:
    'Host name (IDNA allowed, lower-cased); a bare label means <label>.<TENANT_BASE_DOMAIN> when that is set',
});

export const CreateTenantBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    tenant_id: Type.Optional(Type.String({ maxLength: 200 })),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Database host' })),
    domains: Type.Optional(Type.Array(DomainInput, { maxItems: 20 })),
  },
  { additionalProperties: false },
);

export const PlacementSchema = Type.Object(
  {
    host: Type.String(),
    policy: Type.Union(
      [
        Type.Literal('named'),
        Type.Literal('default'),
        Type.Literal('least-tenants'),
        Type.Literal('least-size'),
      ],
      { description: 'named: the request chose the host; otherwise the TENANT_PLACEMENT policy' },
    ),
    skipped: Type.Array(Type.Object({ host: Type.String(), reason: Type.String() }), {
      description: 'Hosts the policy left out because they did not answer',
    }),
  },
  { description: 'How the database host was chosen' },
);
export type PlacementView = Static<typeof PlacementSchema>;

export const CreatedSchema = Type.Object({
  tenant: TenantViewSchema,
  migration: RunViewSchema,
  placement: PlacementSchema,
});

const bytes = (description: string) => Nullable(Type.Integer({ minimum: 0, description }));
export const HostViewSchema = Type.Object({
  host: Type.String({ description: 'default, or a key of TENANT_DATABASE_URLS' }),
  tenants: Type.Integer({ description: 'Registry rows placed on the host (every status)' }),
  reachable: Type.Boolean(),
  error: Nullable(Type.String({ description: 'Why the host did not answer' })),
  tenant_bytes: bytes("Size of the host's tenant schemas (tables, indexes, TOAST)"),
  database_bytes: bytes('pg_database_size of the host database'),
  connections: Nullable(Type.Integer({ description: 'Backends on the host database (pg_stat_activity)' })),
  host_revision: Nullable(Type.String({ description: 'Host-level migration revision (tenantry schema)' })),
  host_head: Nullable(Type.String({ description: "The code's host-level head revision" })),
});
export type HostView = Static<typeof HostViewSchema>;

export const HostListSchema = Type.Object({
  policy: Type.String({ description: 'TENANT_PLACEMENT in force' }),
  items: Type.Array(HostViewSchema),
});

export const LegacyCreateQuery = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  schema: Type.Optional(Type.String({ maxLength: 200 })),
  host: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 300,
      description: "The tenant's domain, as in the predecessor (a bare label: see POST /cc/tenants domains)",
    }),
  ),
  db_host: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'Database host (default: default)' }),
  ),
});

export const DomainViewSchema = Type.Object({
  domain: Type.String(),
  tenant_id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});
export type DomainView = Static<typeof DomainViewSchema>;

export const DomainListSchema = Type.Object({
  tenant_id: Type.String(),
  items: Type.Array(DomainViewSchema),
});

export const AddDomainBody = Type.Object({ domain: DomainInput }, { additionalProperties: false });
export const DomainParams = Type.Object({
  id: TenantIdParam,
  domain: Type.String({ minLength: 1, maxLength: 300 }),
});

export const MigrateBody = Type.Object(
  { target: Type.Optional(Revision), dry_run: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export const LegacyUpgradeQuery = Type.Object({
  schema: TenantIdParam,
  target: Type.Optional(Revision),
  dry_run: Type.Optional(Type.Boolean()),
});

export const DowngradeBody = Type.Object(
  {
    steps: Type.Integer({ minimum: 1, maximum: 1000 }),
    confirm: Type.Optional(
      Type.String({
        maxLength: 200,
        description:
          'Repeat the tenant id to allow dropping tables or columns that hold rows (otherwise 409)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DeleteQuery = Type.Object({
  confirm: Type.Optional(Type.String({ maxLength: 200, description: 'Must repeat the tenant id' })),
});

export const FleetBody = Type.Object(
  {
    target: Type.Optional(Revision),
    dry_run: Type.Optional(Type.Boolean()),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
    tenants: Type.Optional(Type.Array(TenantIdParam, { maxItems: 10_000 })),
    only_failed: Type.Optional(Type.Boolean()),
    canary: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: 1, maximum: 10_000, description: 'the first N tenants (by id)' }),
        Type.Array(TenantIdParam, { minItems: 1, maxItems: 1_000, description: 'these tenants' }),
      ]),
    ),
    max_failures: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        Type.String({ pattern: '^\\d+(\\.\\d+)?%$', description: 'a percentage of the tenants, e.g. "10%"' }),
      ]),
    ),
  },
  { additionalProperties: false },
);

export const JobAcceptedSchema = Type.Object({ job_id: Type.String({ format: 'uuid' }) });
export const JobParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

const JobStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('halted'),
  Type.Literal('cancelled'),
]);

const JobRequestSchema = Type.Object({
  target: Type.Optional(Type.String()),
  dry_run: Type.Optional(Type.Boolean()),
  concurrency: Type.Optional(Type.Integer()),
  tenants: Type.Optional(Type.Array(Type.String())),
  only_failed: Type.Optional(Type.Boolean()),
  host: Type.Optional(Type.String()),
  canary: Type.Optional(Type.Union([Type.Integer(), Type.Array(Type.String())])),
  max_failures: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
});

const FleetResultSchema = Type.Object({
  tenant_id: Type.String(),
  host: Type.String(),
  wave: Type.Union([Type.Literal('canary'), Type.Literal('main')]),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('running'),
    Type.Literal('upgraded'),
    Type.Literal('up_to_date'),
    Type.Literal('would_upgrade'),
    Type.Literal('failed'),
    Type.Literal('skipped'),
    Type.Literal('deleted'),
    Type.Literal('ahead'),
  ]),
  from: Nullable(Type.String()),
  to: Nullable(Type.String()),
  error: Nullable(Type.String()),
  attempts: Type.Integer(),
  duration_ms: Nullable(Type.Integer()),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
});

export const JobViewSchema = Type.Object({
  job_id: Type.String(),
  kind: Type.Literal('migrate'),
  status: JobStatus,
  request: JobRequestSchema,
  cancel_requested: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
  progress: Type.Object({
    done: Type.Integer(),
    /** null until the job has planned its tenants. */
    total: Nullable(Type.Integer()),
  }),
  summary: Type.Object({
    total: Type.Integer(),
    pending: Type.Integer(),
    upgraded: Type.Integer(),
    up_to_date: Type.Integer(),
    would_upgrade: Type.Integer(),
    failed: Type.Integer(),
  }),
  results: Type.Array(FleetResultSchema),
  error: Nullable(Type.String()),
});
export type JobView = Static<typeof JobViewSchema>;

/** POST /cc/tenants/{id}/move (issue 17). */
export const MoveBody = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'Target database host (TENANT_DATABASE_URLS)',
    }),
    dry_run: Type.Optional(
      Type.Boolean({ description: 'Copy and verify into a scratch schema on the target, then drop it' }),
    ),
  },
  { additionalProperties: false },
);

/** A tenant move job (src/jobs/move-jobs.ts): its recorded state and steps. */
export const MoveJobViewSchema = Type.Object({
  job_id: Type.String(),
  kind: Type.Literal('move'),
  status: Type.Union([
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
  ]),
  tenant_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  dry_run: Type.Boolean(),
  method: Nullable(Type.String()),
  method_note: Nullable(Type.String()),
  state: Type.Union([
    Type.Literal('queued'),
    Type.Literal('copying'),
    Type.Literal('switching'),
    Type.Literal('switched'),
    Type.Literal('done'),
    Type.Literal('undone'),
    Type.Literal('failed'),
  ]),
  step: Type.String(),
  steps: Type.Array(
    Type.Object({ step: Type.String(), at: Type.String(), note: Type.Optional(Type.String()) }),
  ),
  attempts: Type.Integer(),
  hold_ms: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
});

export const AnyJobViewSchema = Type.Union([JobViewSchema, MoveJobViewSchema]);

export const JobPageSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      job_id: Type.String(),
      status: JobStatus,
      request: JobRequestSchema,
      created_at: Type.String({ format: 'date-time' }),
      finished_at: Nullable(Type.String({ format: 'date-time' })),
      total: Type.Integer(),
      done: Type.Integer(),
      failed: Type.Integer(),
    }),
  ),
  total: Type.Integer(),
  page: Type.Integer(),
  size: Type.Integer(),
  pages: Type.Integer(),
});

export const JobListQuery = Type.Object({
  page: Type.Integer({ minimum: 1, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

export const CancelledSchema = Type.Object({ job_id: Type.String(), status: JobStatus });

export const DriftSchema = Type.Object({
  checked: Type.Integer(),
  drifted: Type.Integer(),
  tenants: Type.Array(
    Type.Object({
      tenant_id: Type.String(),
      host: Type.String(),
      missing: Type.Array(Type.String()),
      unexpected: Type.Array(Type.String()),
    }),
  ),
  orphans: Type.Array(Type.Object({ host: Type.String(), schema: Type.String() }), {
    description: 'Tenant-shaped schemas (a schema_migrations table) that have no registry row on their host',
  }),
});

export const DriftQuery = Type.Object({
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});
