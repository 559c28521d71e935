-- The event sink written by audit: usage logs (one row per finished relay request) and
-- audit events (everything else). Both are idempotent on (producer_id, seq): producers
-- re-send until acknowledged and several audit instances may store the same event, so a
-- duplicate insert must be a no-op (ON CONFLICT DO NOTHING), never a second row.
-- No foreign keys: a log row outlives the user or key it names.

CREATE TABLE usage_logs (
    id              bigserial PRIMARY KEY,
    producer_id     text NOT NULL,
    seq             bigint NOT NULL,
    time            timestamptz NOT NULL,
    request_id      text,
    user_id         bigint,
    relay_key_id    bigint,
    upstream_key_id bigint,
    route           text NOT NULL DEFAULT '',
    model           text,
    width           integer,
    height          integer,
    steps           integer,
    n_samples       integer,
    cost            bigint,
    status          integer NOT NULL DEFAULT 0,
    error           text,
    latency_ms      bigint,
    bytes           bigint,
    node            text,
    retries         integer,
    ip              text, -- only ever written when LOG_REQUEST_IP is on
    UNIQUE (producer_id, seq)
);
-- A user's own logs, newest first, with the keyset cursor (time, id): GET /logs, /logs/stats.
CREATE INDEX usage_logs_user_time ON usage_logs (user_id, time DESC, id DESC);
-- Everyone's logs newest first (GET /admin/logs) and retention by age.
CREATE INDEX usage_logs_time ON usage_logs (time DESC, id DESC);
-- Admin filters by status or route.
CREATE INDEX usage_logs_status_time ON usage_logs (status, time DESC, id DESC);
CREATE INDEX usage_logs_route_time ON usage_logs (route, time DESC, id DESC);

CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    producer_id     text NOT NULL,
    seq             bigint NOT NULL,
    time            timestamptz NOT NULL,
    type            text NOT NULL,
    actor_user_id   bigint,
    subject         text,
    details         jsonb NOT NULL DEFAULT '{}',
    UNIQUE (producer_id, seq)
);
CREATE INDEX audit_events_time ON audit_events (time DESC, id DESC);
CREATE INDEX audit_events_type_time ON audit_events (type, time DESC, id DESC);
CREATE INDEX audit_events_actor_time ON audit_events (actor_user_id, time DESC, id DESC);
