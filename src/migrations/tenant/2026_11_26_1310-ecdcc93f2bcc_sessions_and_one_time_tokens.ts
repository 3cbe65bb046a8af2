/**
 * Sessions (bearer tokens, one row per device) and one-time tokens (e-mail verification, password reset,
 * invitation). Only SHA-256 hashes of tokens are stored, never the tokens themselves (SPEC 11).
 */
export const description = 'Sessions and one-time tokens';
export const follows = '7e4ee8e37b99';

export const up = `
CREATE TABLE sessions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  user_agent   text CHECK (length(user_agent) <= 500),
  ip           inet,
  revoked_at   timestamptz
);

CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE user_tokens (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  kind       text NOT NULL CHECK (kind IN ('verify_email', 'password_reset', 'invitation')),
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);

CREATE INDEX user_tokens_user_idx ON user_tokens (user_id, kind);
`;

export const down = `
DROP TABLE user_tokens;

DROP TABLE sessions;
`;
