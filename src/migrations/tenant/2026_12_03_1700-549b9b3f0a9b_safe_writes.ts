/**
 * Safe writes (issue 19): idempotency keys, row versions for ETag / If-Match, scoped API tokens.
 *
 *  - `idempotency_keys`: the first answer to a write sent with an `Idempotency-Key`, per user and key, for
 *    24 hours (src/http/idempotency.ts). A row is inserted as `running` before the write starts (its own
 *    short transaction, so a concurrent retry sees it and answers 409) and completed with the answer.
 *    `locked_until` is the lease of the running request: a row still `running` past it belongs to a
 *    process that died, and a retry may take it over. Pruned hourly by the job queue.
 *  - `version`: a row version on every resource that answers an ETag. A trigger bumps it on EVERY update
 *    of the row (position shifts of neighbours included), so no code path can forget it; unlike `xmin` it
 *    survives dump/restore and tenant moves, and a no-op UPDATE statement still counts as a change (a
 *    spurious 412 is safe, a missed change would not be).
 *  - `api_tokens`: personal tokens for integrations (src/auth/api-tokens.ts): only the SHA-256 of the
 *    token is stored, with the permissions it is limited to.
 */
export const description = 'Idempotency keys, row versions, scoped API tokens';
export const follows = '53ef3f6ee276';

export const up = `
CREATE TABLE idempotency_keys (
  user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  fingerprint  bytea NOT NULL CHECK (length(fingerprint) = 32),
  method       text NOT NULL,
  path         text NOT NULL,
  state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
  locked_until timestamptz NOT NULL,
  status_code  smallint,
  headers      jsonb,
  body         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;

ALTER TABLE users ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE lists ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE comments ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE TRIGGER users_version BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER groups_version BEFORE UPDATE ON groups FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER lists_version BEFORE UPDATE ON lists FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER tasks_version BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER tags_version BEFORE UPDATE ON tags FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER comments_version BEFORE UPDATE ON comments FOR EACH ROW EXECUTE FUNCTION bump_version();

CREATE TABLE api_tokens (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid         uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  scopes       text[] NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at   timestamptz
);

CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);
`;

export const down = `
DROP TABLE api_tokens;

DROP TRIGGER comments_version ON comments;
DROP TRIGGER tags_version ON tags;
DROP TRIGGER tasks_version ON tasks;
DROP TRIGGER lists_version ON lists;
DROP TRIGGER groups_version ON groups;
DROP TRIGGER users_version ON users;

ALTER TABLE comments DROP COLUMN version;
ALTER TABLE tags DROP COLUMN version;
ALTER TABLE tasks DROP COLUMN version;
ALTER TABLE lists DROP COLUMN version;
ALTER TABLE groups DROP COLUMN version;
ALTER TABLE users DROP COLUMN version;

DROP FUNCTION bump_version();

DROP TABLE idempotency_keys;
`;
