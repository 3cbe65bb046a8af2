/**
 * Groups of users (with a member set each) and typed settings (SPEC 3.2). Settings hold one JSON value per
 * key, tenant-wide (`user_id IS NULL`) or per user; which keys exist and what type each value has is
 * defined in code (src/routes/settings/catalogue.ts), so this table only guarantees one value per key.
 */
export const description = 'Groups with members, tenant and user settings';
export const follows = 'ecdcc93f2bcc';

export const up = `
CREATE TABLE groups (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Two groups named "Sales" and "sales" would confuse people picking one from a list.
CREATE UNIQUE INDEX groups_name_idx ON groups (lower(name));

CREATE TABLE group_members (
  group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user_idx ON group_members (user_id);

CREATE TABLE settings (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint REFERENCES users (id) ON DELETE CASCADE,
  key        text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,63}$'),
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- NULLS NOT DISTINCT: one tenant-wide row per key too (user_id NULL), and ON CONFLICT can target it.
  CONSTRAINT settings_owner_key_key UNIQUE NULLS NOT DISTINCT (user_id, key)
);
`;

export const down = `
DROP TABLE settings;

DROP TABLE group_members;

DROP TABLE groups;
`;
