-- Teams, their members, sign-in links, sessions and secrets at rest (PostgreSQL).
-- Times are Unix seconds (UTC). Tokens are stored only as SHA-256 hex digests.
CREATE TABLE teams (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    plan        TEXT    NOT NULL DEFAULT 'free',
    created_at  BIGINT  NOT NULL
);

CREATE TABLE users (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id        BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email          TEXT    NOT NULL UNIQUE,
    role           TEXT    NOT NULL,
    password_hash  TEXT,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     BIGINT  NOT NULL
);
CREATE INDEX users_team ON users (team_id);

CREATE TABLE sign_in_links (
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);

CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- One row, sealed under the master key at first start: decrypting it proves the key is right.
CREATE TABLE master_key_check (
    id          BIGINT  PRIMARY KEY CHECK (id = 1),
    sealed      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- AES-256-GCM: sealed = 12-byte nonce || ciphertext || tag; the AAD binds it to team and name.
CREATE TABLE secrets (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    sealed      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (team_id, name)
);
