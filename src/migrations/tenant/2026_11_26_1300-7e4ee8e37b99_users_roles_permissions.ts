/**
 * First tenant revision: users, roles and permissions, with the seeded roles OWNER / ADMIN / MEMBER and
 * the permission catalogue of SPEC 3.2. Keep the permission names in sync with src/auth/permissions.ts.
 */
export const description = 'Users, roles and permissions with seeded roles';
export const follows = null;

export const up = `
CREATE TABLE roles (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Z][A-Z0-9_]{0,49}$'),
  title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '',
  is_system   boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE permissions (
  id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name  text NOT NULL UNIQUE,
  title text NOT NULL
);

CREATE TABLE role_permissions (
  role_id       integer NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  permission_id integer NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid          uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  email         text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
  first_name    text NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
  last_name     text NOT NULL DEFAULT '' CHECK (length(last_name) <= 100),
  phone         text CHECK (length(phone) <= 32),
  password_hash text,
  role_id       integer NOT NULL REFERENCES roles (id),
  is_active     boolean NOT NULL DEFAULT true,
  is_verified   boolean NOT NULL DEFAULT false,
  tz            text NOT NULL DEFAULT 'UTC',
  lang          text NOT NULL DEFAULT 'en',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);

-- E-mails are unique among live users; a deleted user's address may be reused.
CREATE UNIQUE INDEX users_email_live_idx ON users (email) WHERE deleted_at IS NULL;

CREATE INDEX users_role_idx ON users (role_id);

INSERT INTO permissions (name, title) VALUES
  ('USER_VIEW', 'View users'),
  ('USER_ADD', 'Add users'),
  ('USER_EDIT', 'Edit users'),
  ('USER_DELETE', 'Delete users'),
  ('USER_IMPORT', 'Import users'),
  ('USER_EXPORT', 'Export users'),
  ('ROLE_MANAGE', 'Manage roles'),
  ('GROUP_MANAGE', 'Manage groups'),
  ('LIST_MANAGE', 'Manage lists'),
  ('TASK_VIEW', 'View tasks'),
  ('TASK_ADD', 'Add tasks'),
  ('TASK_EDIT', 'Edit tasks'),
  ('TASK_DELETE', 'Delete tasks'),
  ('TASK_EXPORT', 'Export tasks'),
  ('TAG_MANAGE', 'Manage tags'),
  ('SETTINGS_MANAGE', 'Manage settings');

INSERT INTO roles (name, title, description, is_system) VALUES
  ('OWNER', 'Owner', 'Everything, including roles and settings; cannot be left without a holder', true),
  ('ADMIN', 'Administrator', 'Manages users, groups, lists, tasks and tags', true),
  ('MEMBER', 'Member', 'Works with tasks', true);

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE r.name = 'OWNER'
   OR (r.name = 'ADMIN' AND p.name NOT IN ('ROLE_MANAGE', 'SETTINGS_MANAGE'))
   OR (r.name = 'MEMBER' AND p.name IN ('USER_VIEW', 'TASK_VIEW', 'TASK_ADD', 'TASK_EDIT'));
`;

export const down = `
DROP TABLE users;

DROP TABLE role_permissions;

DROP TABLE permissions;

DROP TABLE roles;
`;
