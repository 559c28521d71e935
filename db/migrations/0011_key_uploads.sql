-- Key uploads (issues 10 and 11).
--
-- key_upload_attempts: one row per POST /keys that reached the probe stage, successful or not,
-- so KEY_UPLOADS_PER_HOUR bounds how often one user can make the pool ask NovelAI about a
-- token (a failed probe counts: the pool must not be an oracle for stolen tokens). Rows older
-- than an hour are deleted by the next attempt of the same user.
--
-- upstream_keys.fp_version: which key the fingerprint is an HMAC under. 1: a key derived from
-- SECRET_KEY (before this migration); 2: a key derived from ENCRYPTION_KEY, so the pool needs
-- no SECRET_KEY. The pool re-fingerprints version-1 rows at start (it can decrypt every
-- token), in one transaction, idempotently. The default stays 1 so that a pool instance still
-- running the old code during a rolling upgrade marks what it inserts for re-fingerprinting.

CREATE TABLE key_upload_attempts (
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_upload_attempts_user ON key_upload_attempts (user_id, at);

ALTER TABLE upstream_keys ADD COLUMN fp_version smallint NOT NULL DEFAULT 1
    CHECK (fp_version IN (1, 2));
