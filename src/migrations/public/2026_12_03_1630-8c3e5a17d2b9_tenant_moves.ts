/**
 * Tenant moves between database hosts (issue 17, src/tenancy/moves/): one row per move, written step by
 * step so a process killed at any step leaves enough behind for the next run (or `tenants move --resume`,
 * or the job's retry) to finish or undo it. `state` drives recovery; `step` and `steps` are progress for
 * people (CLI output, `GET /cc/jobs/{id}`).
 *
 * At most one unfinished move per tenant (the partial unique index), so two operators cannot start two.
 */
export const description = 'Tenant moves between database hosts';
export const follows = '495e6c3295bd';

export const up = `
CREATE TABLE tenant_moves (
  id          uuid PRIMARY KEY,
  tenant_id   text NOT NULL,
  from_host   text NOT NULL,
  to_host     text NOT NULL,
  dry_run     boolean NOT NULL DEFAULT false,
  method      text CHECK (method IN ('logical', 'dump')),
  method_note text,
  state       text NOT NULL DEFAULT 'queued'
              CHECK (state IN ('queued', 'copying', 'switching', 'switched', 'done', 'undone', 'failed')),
  step        text NOT NULL DEFAULT 'queued',
  steps       jsonb NOT NULL DEFAULT '[]',
  detail      jsonb NOT NULL DEFAULT '{}',
  error       text,
  attempts    integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE UNIQUE INDEX tenant_moves_one_unfinished ON tenant_moves (tenant_id)
  WHERE state IN ('queued', 'copying', 'switching', 'switched');
CREATE INDEX tenant_moves_created ON tenant_moves (created_at DESC);
`;

export const down = `
DROP TABLE tenant_moves;
`;
