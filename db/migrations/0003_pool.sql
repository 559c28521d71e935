-- The pool: contributed NovelAI keys (encrypted at rest), their leases across pool
-- instances, and the per-user GCRA rate rows.

-- One contributed persistent token. ciphertext is nonce | AES-256-GCM ciphertext | tag under
-- ENCRYPTION_KEY with the row id (8 bytes, big-endian) as associated data, so a ciphertext
-- copied onto another row does not open. fingerprint is HMAC-SHA256 of the token under a key
-- derived from SECRET_KEY: duplicates are found without decrypting anything. A withdrawn key's
-- row is deleted, ciphertext and all.
CREATE TABLE upstream_keys (
    id                      bigserial PRIMARY KEY,
    owner_id                bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ciphertext              bytea,
    fingerprint             bytea NOT NULL UNIQUE,
    masked                  text NOT NULL,
    note                    text NOT NULL DEFAULT '',
    enabled                 boolean NOT NULL DEFAULT true,
    disabled_by             text CHECK (disabled_by IS NULL OR disabled_by IN ('owner', 'admin')),
    state                   text NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'active', 'cooling', 'exhausted',
                                             'invalid', 'expired', 'disabled')),
    tier                    integer,
    sub_active              boolean,
    expires_at              timestamptz,
    anlas                   bigint,
    v5_negative             boolean,
    v5_percent              double precision,
    allow_paid              boolean NOT NULL DEFAULT false,
    max_anlas_per_request   integer CHECK (max_anlas_per_request IS NULL OR max_anlas_per_request >= 0),
    anlas_floor             integer NOT NULL DEFAULT 0 CHECK (anlas_floor >= 0),
    fail_streak             integer NOT NULL DEFAULT 0,
    cooldown_until          timestamptz,
    last_used_at            timestamptz,
    last_checked_at         timestamptz,
    last_error              text,
    uses_day                date,
    uses_today              integer NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upstream_keys_owner ON upstream_keys (owner_id);
CREATE INDEX upstream_keys_usable ON upstream_keys (last_used_at NULLS FIRST, id)
    WHERE state IN ('active', 'cooling') AND enabled;

-- Leases: a key serves at most KEY_MAX_CONCURRENCY requests at once, across every pool
-- instance. A lease is one (key, slot) row; a slot whose lease expired may be taken over, so
-- a crashed instance's leases lapse. holder names the instance (node plus a random suffix).
CREATE TABLE key_leases (
    key_id          bigint NOT NULL REFERENCES upstream_keys (id) ON DELETE CASCADE,
    slot            integer NOT NULL,
    holder          text NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (key_id, slot)
);
CREATE INDEX key_leases_holder ON key_leases (holder);

-- GCRA per user: tat is the theoretical arrival time; allowed records whether the last
-- update let the request through (one UPDATE ... RETURNING decides).
CREATE TABLE rate_limits (
    user_id         bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tat             timestamptz NOT NULL,
    allowed         boolean NOT NULL DEFAULT true
);
