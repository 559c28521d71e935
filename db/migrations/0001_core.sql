-- The core schema: users and their relay keys, contributed upstream keys, rate rows,
-- runtime configuration, and the usage and audit logs.

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL,
    password_hash   text NOT NULL,
    role            text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled        boolean NOT NULL DEFAULT false,
    rpm_override    integer CHECK (rpm_override IS NULL OR rpm_override >= 0),
    token_version   integer NOT NULL DEFAULT 0,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

CREATE TABLE relay_keys (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL,
    key_hash        bytea NOT NULL UNIQUE,
    prefix          text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz
);
CREATE INDEX relay_keys_user ON relay_keys (user_id);

-- Per-IP and per-account throttle windows for login and registration, shared by every
-- auth instance.
CREATE TABLE auth_throttle (
    bucket          text PRIMARY KEY,
    window_start    timestamptz NOT NULL,
    hits            integer NOT NULL
);

CREATE TABLE config (
    key             text PRIMARY KEY,
    value           text NOT NULL,
    updated_by      bigint,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
