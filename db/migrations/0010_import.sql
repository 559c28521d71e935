-- What an import from the earlier Python pool brings (naipool import), and the optional
-- e-mail of an account.
--
-- users.email: optional, unique when given (case-insensitive), as in the earlier pool.
-- relay_keys.legacy_sha256: a relay key brought over from the earlier pool, which stored only
-- sha256(key). Such a row has no key_hash until the key is first used: auth recognises the key
-- by its sha256, then stores its HMAC like any other key and clears legacy_sha256.
-- import_map: which old row became which new one, so a second import changes nothing.

ALTER TABLE users ADD COLUMN email text;
CREATE UNIQUE INDEX users_email_lower ON users (lower(email)) WHERE email IS NOT NULL;

ALTER TABLE relay_keys ALTER COLUMN key_hash DROP NOT NULL;
ALTER TABLE relay_keys ADD COLUMN legacy_sha256 bytea UNIQUE;
ALTER TABLE relay_keys ADD CONSTRAINT relay_keys_some_hash
    CHECK (key_hash IS NOT NULL OR legacy_sha256 IS NOT NULL);

CREATE TABLE import_map (
    kind            text NOT NULL CHECK (kind IN ('user', 'relay_key', 'upstream_key', 'log')),
    old_id          bigint NOT NULL,
    new_id          bigint NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, old_id)
);
