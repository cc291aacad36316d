-- Users and sessions.

-- Login reads the argon2id hash from the users read model (the projector copies it from
-- UserCreated / PasswordChanged). The list endpoints never select this column.
ALTER TABLE rm_users ADD COLUMN password_hash text NOT NULL DEFAULT '';

-- Command side: a username is claimed here before CreateUser runs, because an aggregate only
-- sees itself and cannot enforce uniqueness across users. Released when the user is deleted.
CREATE TABLE user_name_claims
(
    username   text PRIMARY KEY,
    user_id    uuid        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens. Operational security state, not domain history: only a SHA-256 of the token
-- is kept. Rotation links a token to its family; presenting a rotated token again revokes the
-- whole family (a stolen token used twice ends every session it spawned).
CREATE TABLE auth_sessions
(
    id          uuid PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    -- Set when rotated, logged out, or revoked by deactivation, deletion or a password change.
    revoked_at  timestamptz,
    revoked_why text
);

CREATE INDEX auth_sessions_user ON auth_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_sessions_family ON auth_sessions (family_id);
