-- Health and runtime configuration: the instances seen (heartbeats), the per-key probe
-- leases that keep two probes of one key from overlapping across instances, the egress proxy
-- pool with its health, the sticky key-to-proxy assignment, and a trigger that announces
-- every change of the config table (so a manual edit propagates like an admin's PUT).

-- One row per running instance of a service; written every few seconds by the instance
-- itself, deleted on a graceful stop, pruned by the health leader when long silent.
CREATE TABLE nodes (
    service         text NOT NULL,
    node            text NOT NULL,
    instance        text NOT NULL,
    version         text NOT NULL,
    started_at      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, node)
);

-- A probe of one key holds its row until it has written its result; a lease that expired
-- (a frozen or crashed prober) may be taken over, and the late result of the old holder is
-- then discarded (its DELETE ... WHERE holder finds nothing).
CREATE TABLE key_probes (
    key_id          bigint PRIMARY KEY REFERENCES upstream_keys (id) ON DELETE CASCADE,
    holder          text NOT NULL,
    expires_at      timestamptz NOT NULL
);

-- Egress proxies. url_sealed holds nonce | AES-256-GCM(url) | tag under ENCRYPTION_KEY with
-- "proxy:" and the row id (8 bytes, big-endian) as associated data, when the URL carries
-- credentials; url_plain holds it otherwise. display is the URL with credentials masked.
CREATE TABLE proxies (
    id              bigserial PRIMARY KEY,
    scheme          text NOT NULL CHECK (scheme IN ('http', 'https', 'socks5', 'socks5h')),
    host            text NOT NULL,
    port            integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    display         text NOT NULL,
    url_plain       text,
    url_sealed      bytea,
    note            text NOT NULL DEFAULT '',
    enabled         boolean NOT NULL DEFAULT true,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'active', 'cooling', 'disabled')),
    latency_ms      integer,
    fail_streak     integer NOT NULL DEFAULT 0,
    failures_total  bigint NOT NULL DEFAULT 0,
    recent_failures jsonb NOT NULL DEFAULT '[]',
    cooldown_until  timestamptz,
    last_checked_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Which proxy a key's requests leave through in proxy_pool mode (an account keeps one
-- egress); changed only when that proxy stops being healthy.
CREATE TABLE proxy_assignments (
    key_id          bigint PRIMARY KEY REFERENCES upstream_keys (id) ON DELETE CASCADE,
    proxy_id        bigint NOT NULL REFERENCES proxies (id) ON DELETE CASCADE,
    assigned_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proxy_assignments_proxy ON proxy_assignments (proxy_id);

-- Every change of a runtime setting is announced on channel np_config with the key as
-- payload; watchers apply it (or fall back to the environment when the row is gone).
CREATE FUNCTION np_config_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('np_config', OLD.key);
    ELSE
        PERFORM pg_notify('np_config', NEW.key);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER config_notify AFTER INSERT OR UPDATE OR DELETE ON config
    FOR EACH ROW EXECUTE FUNCTION np_config_notify();
