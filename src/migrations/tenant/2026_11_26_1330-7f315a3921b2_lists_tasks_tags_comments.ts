/**
 * The TODO domain (SPEC 3.2): lists, tasks (soft delete), assignees, tags, the append-only task timeline
 * and comments. Internal ids are bigint identities (joins, foreign keys); clients only ever see uuids.
 *
 * Choices worth knowing:
 *  - status and priority are text + CHECK rather than enum types: values can be added later without
 *    ALTER TYPE, and INSERT … SELECT with bound parameters needs no casts to a schema-local type.
 *    `priority_rank` (generated) gives priority its natural order for sorting.
 *  - `(status = 'done') = (completed_at IS NOT NULL)` is a constraint, so no code path can leave a done
 *    task without a completion time or an open task with one.
 *  - Search is trigram (pg_trgm, created by public revision 0a06f682cfbb) rather than full-text: clients
 *    search like `/users/?search=` — a case-insensitive substring ("deploy" finds "redeployment",
 *    "INV-20" finds "INV-2041") — which ILIKE '%…%' answers exactly and a GIN trigram index accelerates;
 *    full-text would match whole words (or prefixes) only and needs a language. The opclass is
 *    referenced qualified because search_path is the tenant schema here.
 *  - task_events is append-only, enforced by a trigger, not only by the code.
 *  - Every hot query has its index, all partial on live rows (`deleted_at IS NULL`), which is what every
 *    listing asks for: (status, due_at) for `GET /tasks/?status=todo&sort=due_at`, (list_id, position)
 *    for ordering within a list and the next position on insert.
 */
export const description = 'Lists, tasks, assignees, tags, task events and comments';
export const follows = '644e2e7c091a';

export const up = `
CREATE TABLE lists (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  color       text CHECK (color ~ '^#[0-9a-f]{6}$'),
  position    integer NOT NULL DEFAULT 0,
  archived_at timestamptz,
  created_by  bigint REFERENCES users (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX lists_position_idx ON lists (position, id);

CREATE TABLE tasks (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid          uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  -- NULL = the inbox. RESTRICT: a list that holds tasks is archived, never deleted (docs/todo.md).
  list_id       bigint REFERENCES lists (id) ON DELETE RESTRICT,
  title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description   text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
  status        text NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in_progress', 'done')),
  priority      text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
  priority_rank smallint GENERATED ALWAYS AS (
                  CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 4 END
                ) STORED,
  due_at        timestamptz,
  completed_at  timestamptz,
  position      integer NOT NULL DEFAULT 0,
  author_id     bigint NOT NULL REFERENCES users (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  CONSTRAINT tasks_completed_when_done CHECK ((status = 'done') = (completed_at IS NOT NULL))
);

CREATE INDEX tasks_list_position_idx ON tasks (list_id, position, id) WHERE deleted_at IS NULL;

CREATE INDEX tasks_status_due_idx ON tasks (status, due_at, id) WHERE deleted_at IS NULL;

CREATE INDEX tasks_created_idx ON tasks (created_at, id) WHERE deleted_at IS NULL;

CREATE INDEX tasks_deleted_idx ON tasks (deleted_at) WHERE deleted_at IS NOT NULL;

-- Keep the expression identical to the search predicate in src/routes/tasks/task-filters.ts.
CREATE INDEX tasks_search_trgm_idx ON tasks
  USING gin ((title || ' ' || description) public.gin_trgm_ops) WHERE deleted_at IS NULL;

CREATE TABLE task_assignees (
  task_id     bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  user_id     bigint NOT NULL REFERENCES users (id),
  assigned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, user_id)
);

CREATE INDEX task_assignees_user_idx ON task_assignees (user_id, task_id);

CREATE TABLE tags (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid       uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
  color      text CHECK (color ~ '^#[0-9a-f]{6}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- "Urgent" and "urgent" side by side in a tag picker would be a mistake, not a choice.
CREATE UNIQUE INDEX tags_name_idx ON tags (lower(name));

CREATE TABLE task_tags (
  task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  -- RESTRICT: deleting a tag in use needs force, which unlinks it first (and records the change).
  tag_id  bigint NOT NULL REFERENCES tags (id) ON DELETE RESTRICT,
  PRIMARY KEY (task_id, tag_id)
);

CREATE INDEX task_tags_tag_idx ON task_tags (tag_id, task_id);

CREATE TABLE task_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id    bigint NOT NULL REFERENCES tasks (id),
  actor_id   bigint NOT NULL REFERENCES users (id),
  action     text NOT NULL CHECK (action IN (
               'created', 'updated', 'status_changed', 'assigned', 'unassigned',
               'commented', 'deleted', 'restored')),
  before     jsonb,
  after      jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX task_events_task_idx ON task_events (task_id, id);

CREATE FUNCTION task_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'task_events is append-only (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER task_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON task_events
  FOR EACH STATEMENT EXECUTE FUNCTION task_events_append_only();

CREATE TABLE comments (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid       uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  task_id    bigint NOT NULL REFERENCES tasks (id),
  author_id  bigint NOT NULL REFERENCES users (id),
  body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

CREATE INDEX comments_task_idx ON comments (task_id, id) WHERE deleted_at IS NULL;
`;

export const down = `
DROP TABLE comments;

-- DROP TABLE fires no row or statement trigger, so the append-only guard does not stand in the way.
DROP TABLE task_events;

DROP FUNCTION task_events_append_only();

DROP TABLE task_tags;

DROP TABLE tags;

DROP TABLE task_assignees;

DROP TABLE tasks;

DROP TABLE lists;
`;
