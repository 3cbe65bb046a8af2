/**
 * One change feed (issue 19): every change of the tenant's data — tasks, lists, tags, comments, users,
 * groups, settings — is an event in the append-only `change_events`, written in the transaction of the
 * change. The task timeline is no longer a table of its own: `task_events` becomes a view of the feed
 * (its rows are moved in here, in order), so there is one log and one sequence.
 *
 * Who writes the events, and why both:
 *  - The services keep writing the task timeline's rich events (`status_changed`, `assigned`, before and
 *    after of each field…) straight into change_events (`recorded_by = 'service'`): they know the actor
 *    and the meaning of a change.
 *  - Deferred constraint triggers (`change_capture`) on every data table guarantee "every change": at
 *    COMMIT, a row changed in the transaction whose entity has no event of this transaction yet gets a
 *    generic one (`created` / `updated` / `deleted` / `restored`, `recorded_by = 'trigger'`, the actor
 *    from `SET LOCAL tenantry.actor` when the code set it). So a route added tomorrow, a sibling task
 *    shifted by a move, a user imported from CSV or an operator's UPDATE are in the feed too. Deferred =
 *    one event per entity and transaction, carrying the state the transaction commits.
 *  - `change_events_fill` (also deferred) gives every event of the transaction `data`: the entity's
 *    state as committed (`change_snapshot`), which is what a sync client applies and a webhook carries.
 *
 * Cursor order = commit order, with no gaps: ids are not a sequence but `change_head.last_id + 1`,
 * taken under the row lock of the one `change_head` row, held until commit. Event writers of a tenant
 * therefore commit one after another (lock order: … → task row → change_head, always last), a later id
 * can never commit before an earlier one, and a rolled-back transaction gives its ids back. A reader at
 * `id > cursor` sees a prefix of the log, never a hole that fills later.
 *
 * The functions reach the tenant's tables through `TG_TABLE_SCHEMA` (dynamic SQL), never a schema name
 * or search_path captured here, so a schema restored under another name keeps working.
 * Retention: `change_head.pruned_through` is the last id deleted by the pruning job (src/routes/sync/feed.ts, cron job in src/jobs/cleanup.ts);
 * deleting is refused unless that job says so (`SET LOCAL tenantry.prune = 'on'`).
 */
export const description = 'Change feed: change_events with capture triggers; task_events becomes a view';
export const follows = '3b8d51c0e6a4';

/** The tables whose changes are captured, the entity each belongs to, and the column naming it. */
const CAPTURED: Array<[table: string, entity: string, idColumn: string]> = [
  ['tasks', 'task', 'id'],
  ['task_assignees', 'task', 'task_id'],
  ['task_tags', 'task', 'task_id'],
  ['lists', 'list', 'id'],
  ['tags', 'tag', 'id'],
  ['comments', 'comment', 'id'],
  ['users', 'user', 'id'],
  ['groups', 'group', 'id'],
  ['group_members', 'group', 'group_id'],
  ['settings', 'setting', 'id'],
];

const captureTriggers = CAPTURED.map(
  ([table, entity, idColumn]) => `
CREATE CONSTRAINT TRIGGER change_capture AFTER INSERT OR UPDATE OR DELETE ON ${table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION change_capture('${entity}', '${idColumn}');`,
).join('\n');

const dropCaptureTriggers = CAPTURED.map(([table]) => `DROP TRIGGER change_capture ON ${table};`).join('\n');

export const up = `
CREATE TABLE change_head (
  only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  last_id        bigint NOT NULL DEFAULT 0,
  pruned_through bigint NOT NULL DEFAULT 0
);

INSERT INTO change_head DEFAULT VALUES;

CREATE TABLE change_events (
  id          bigint PRIMARY KEY,
  tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  entity      text NOT NULL CHECK (entity IN ('task', 'list', 'tag', 'comment', 'user', 'group', 'setting')),
  entity_id   bigint NOT NULL,
  -- The client's name of the entity: its uuid, or for a setting '<user uuid | tenant>:<key>'.
  entity_key  text,
  action      text NOT NULL CHECK (action IN (
                'created', 'updated', 'deleted', 'restored',
                'status_changed', 'assigned', 'unassigned', 'commented')),
  recorded_by text NOT NULL DEFAULT 'service' CHECK (recorded_by IN ('service', 'trigger')),
  actor_id    bigint REFERENCES users (id),
  before      jsonb,
  after       jsonb,
  data        jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- "Has this entity an event in this transaction yet?" (change_capture, once per changed row at commit).
CREATE INDEX change_events_tx_idx ON change_events (tx, entity, entity_id);

CREATE INDEX change_events_timeline_idx ON change_events (entity_id, id)
  WHERE entity = 'task' AND recorded_by = 'service';

CREATE INDEX change_events_created_idx ON change_events (created_at);

CREATE FUNCTION change_events_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The row lock taken here is held until commit: see the revision's comment (commit order, no gaps).
  EXECUTE format('UPDATE %I.change_head SET last_id = last_id + 1 RETURNING last_id', TG_TABLE_SCHEMA)
    INTO NEW.id;
  RETURN NEW;
END
$$;

CREATE TRIGGER change_events_number BEFORE INSERT ON change_events
  FOR EACH ROW EXECUTE FUNCTION change_events_number();

CREATE FUNCTION change_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A transaction completes its own events before commit (data); nobody has seen them yet.
  IF TG_OP = 'UPDATE' AND OLD.tx = pg_current_xact_id() AND NEW.id = OLD.id THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'DELETE' AND current_setting('tenantry.prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'change_events is append-only (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER change_events_append_only BEFORE UPDATE OR DELETE ON change_events
  FOR EACH ROW EXECUTE FUNCTION change_events_append_only();

CREATE TRIGGER change_events_no_truncate BEFORE TRUNCATE ON change_events
  FOR EACH STATEMENT EXECUTE FUNCTION change_events_append_only();

-- The state of one entity as a client sees it (uuids, never internal ids; timestamps as the API writes
-- them), or NULL when it no longer exists. Keep the fields in sync with docs/integrations.md.
CREATE FUNCTION change_snapshot(s text, v_entity text, v_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  q text;
  result jsonb;
BEGIN
  q := CASE v_entity
    WHEN 'task' THEN $q$
      SELECT jsonb_build_object(
        'uuid', t.uuid,
        'list_uuid', (SELECT l.uuid FROM %1$I.lists l WHERE l.id = t.list_id),
        'title', t.title, 'description', t.description, 'status', t.status, 'priority', t.priority,
        'due_at', ISO(t.due_at), 'completed_at', ISO(t.completed_at), 'position', t.position,
        'author_uuid', (SELECT u.uuid FROM %1$I.users u WHERE u.id = t.author_id),
        'assignees', coalesce((SELECT jsonb_agg(u.uuid ORDER BY u.uuid) FROM %1$I.task_assignees a
                               JOIN %1$I.users u ON u.id = a.user_id WHERE a.task_id = t.id), '[]'),
        'tags', coalesce((SELECT jsonb_agg(g.uuid ORDER BY g.uuid) FROM %1$I.task_tags x
                          JOIN %1$I.tags g ON g.id = x.tag_id WHERE x.task_id = t.id), '[]'),
        'created_at', ISO(t.created_at), 'updated_at', ISO(t.updated_at), 'deleted_at', ISO(t.deleted_at))
      FROM %1$I.tasks t WHERE t.id = $1 $q$
    WHEN 'list' THEN $q$
      SELECT jsonb_build_object('uuid', l.uuid, 'name', l.name, 'description', l.description,
        'color', l.color, 'position', l.position, 'archived_at', ISO(l.archived_at),
        'created_at', ISO(l.created_at), 'updated_at', ISO(l.updated_at))
      FROM %1$I.lists l WHERE l.id = $1 $q$
    WHEN 'tag' THEN $q$
      SELECT jsonb_build_object('uuid', g.uuid, 'name', g.name, 'color', g.color,
        'created_at', ISO(g.created_at), 'updated_at', ISO(g.updated_at))
      FROM %1$I.tags g WHERE g.id = $1 $q$
    WHEN 'comment' THEN $q$
      SELECT jsonb_build_object('uuid', c.uuid,
        'task_uuid', (SELECT t.uuid FROM %1$I.tasks t WHERE t.id = c.task_id),
        'author_uuid', (SELECT u.uuid FROM %1$I.users u WHERE u.id = c.author_id),
        'body', c.body, 'created_at', ISO(c.created_at), 'updated_at', ISO(c.updated_at),
        'deleted_at', ISO(c.deleted_at))
      FROM %1$I.comments c WHERE c.id = $1 $q$
    WHEN 'user' THEN $q$
      SELECT jsonb_build_object('uuid', u.uuid, 'email', u.email, 'first_name', u.first_name,
        'last_name', u.last_name, 'phone', u.phone,
        'role', (SELECT r.name FROM %1$I.roles r WHERE r.id = u.role_id),
        'is_active', u.is_active, 'is_verified', u.is_verified, 'tz', u.tz, 'lang', u.lang,
        'created_at', ISO(u.created_at), 'updated_at', ISO(u.updated_at), 'deleted_at', ISO(u.deleted_at))
      FROM %1$I.users u WHERE u.id = $1 $q$
    WHEN 'group' THEN $q$
      SELECT jsonb_build_object('uuid', g.uuid, 'name', g.name, 'description', g.description,
        'members', coalesce((SELECT jsonb_agg(u.uuid ORDER BY u.uuid) FROM %1$I.group_members m
                             JOIN %1$I.users u ON u.id = m.user_id WHERE m.group_id = g.id), '[]'),
        'created_at', ISO(g.created_at), 'updated_at', ISO(g.updated_at))
      FROM %1$I.groups g WHERE g.id = $1 $q$
    WHEN 'setting' THEN $q$
      SELECT jsonb_build_object('key', x.key, 'value', x.value,
        'user_uuid', (SELECT u.uuid FROM %1$I.users u WHERE u.id = x.user_id),
        'updated_at', ISO(x.updated_at))
      FROM %1$I.settings x WHERE x.id = $1 $q$
  END;
  -- ISO(x): the API's timestamp format (src/db/hosts.ts ISO_TIMESTAMP_FORMAT); NULL stays NULL.
  q := regexp_replace(q, 'ISO\\(([a-z_.]+)\\)', 'to_char(\\1 AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'')', 'g');
  EXECUTE format(q, s)
    INTO result USING v_id;
  RETURN result;
END
$$;

CREATE FUNCTION change_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_entity text := TG_ARGV[0];
  old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  v_id bigint := (coalesce(new_row, old_row) ->> TG_ARGV[1])::bigint;
  v_child boolean := TG_ARGV[1] <> 'id';
  s text := TG_TABLE_SCHEMA;
  v_seen boolean;
  v_snap jsonb;
  v_key text;
  v_action text;
BEGIN
  -- A write that changed nothing a client sees (a password, only the update time) is no event.
  IF TG_OP = 'UPDATE' AND old_row - 'updated_at' - 'password_hash' = new_row - 'updated_at' - 'password_hash' THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.change_events
                  WHERE tx = pg_current_xact_id() AND entity = $1 AND entity_id = $2)', s)
    INTO v_seen USING v_entity, v_id;
  IF v_seen THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT %I.change_snapshot($1, $2, $3)', s) INTO v_snap USING s, v_entity, v_id;
  IF v_snap IS NULL AND (v_child OR TG_OP <> 'DELETE') THEN
    -- Gone before commit: its own DELETE (or its parent's) is recorded instead.
    RETURN NULL;
  END IF;
  v_action := CASE
    WHEN v_child THEN 'updated'
    WHEN TG_OP = 'INSERT' THEN 'created'
    WHEN TG_OP = 'DELETE' THEN 'deleted'
    WHEN old_row ->> 'deleted_at' IS NULL AND v_snap ->> 'deleted_at' IS NOT NULL THEN 'deleted'
    WHEN old_row ->> 'deleted_at' IS NOT NULL AND v_snap ->> 'deleted_at' IS NULL THEN 'restored'
    ELSE 'updated'
  END;
  IF v_entity = 'setting' THEN
    EXECUTE format('SELECT coalesce((SELECT uuid::text FROM %I.users WHERE id = $1), ''tenant'') || '':'' || $2', s)
      INTO v_key USING (coalesce(new_row, old_row) ->> 'user_id')::bigint, coalesce(new_row, old_row) ->> 'key';
  ELSE
    v_key := coalesce(v_snap ->> 'uuid', old_row ->> 'uuid');
  END IF;
  EXECUTE format('INSERT INTO %I.change_events (entity, entity_id, entity_key, action, recorded_by, actor_id, data)
                  VALUES ($1, $2, $3, $4, ''trigger'', $5, $6)', s)
    USING v_entity, v_id, v_key, v_action, nullif(current_setting('tenantry.actor', true), '')::bigint, v_snap;
  RETURN NULL;
END
$$;

CREATE FUNCTION change_events_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.data IS NOT NULL AND NEW.entity_key IS NOT NULL THEN
    RETURN NULL;
  END IF;
  -- A service's event, written mid-transaction: it carries the state the transaction commits.
  EXECUTE format('UPDATE %1$I.change_events e SET data = s.snap, entity_key = coalesce(e.entity_key, s.snap ->> ''uuid'')
                  FROM (SELECT %1$I.change_snapshot(%1$L, $1, $2) AS snap) s WHERE e.id = $3', TG_TABLE_SCHEMA)
    USING NEW.entity, NEW.entity_id, NEW.id;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER change_events_fill AFTER INSERT ON change_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION change_events_fill();

-- The timeline's rows, oldest first, carrying each task as it is now (their state at the time was
-- never recorded).
INSERT INTO change_events (entity, entity_id, entity_key, action, recorded_by, actor_id, before, after, data, created_at)
SELECT 'task', e.task_id, t.uuid::text, e.action, 'service', e.actor_id, e.before, e.after,
       change_snapshot(current_schema(), 'task', e.task_id), e.created_at
FROM task_events e JOIN tasks t ON t.id = e.task_id
ORDER BY e.id;

-- DROP TABLE fires no row or statement trigger, so the append-only guard does not stand in the way.
DROP TABLE task_events;

DROP FUNCTION task_events_append_only();

-- The task timeline, a view of the feed: what the services recorded about each task.
CREATE VIEW task_events AS
  SELECT id, entity_id AS task_id, actor_id, action, before, after, created_at
  FROM change_events
  WHERE entity = 'task' AND recorded_by = 'service';
${captureTriggers}
`;

export const down = `
${dropCaptureTriggers}

DROP VIEW task_events;

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

INSERT INTO task_events (task_id, actor_id, action, before, after, created_at)
SELECT entity_id, actor_id, action, before, after, created_at
FROM change_events
WHERE entity = 'task' AND recorded_by = 'service' AND actor_id IS NOT NULL
ORDER BY id;

CREATE FUNCTION task_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'task_events is append-only (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER task_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON task_events
  FOR EACH STATEMENT EXECUTE FUNCTION task_events_append_only();

DROP TABLE change_events;

DROP FUNCTION change_events_fill();

DROP FUNCTION change_capture();

DROP FUNCTION change_snapshot(text, text, bigint);

DROP FUNCTION change_events_append_only();

DROP FUNCTION change_events_number();

DROP TABLE change_head;
`;
