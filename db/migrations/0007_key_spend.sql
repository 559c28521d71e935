-- What each contributed key spent through the pool, per day: the Anlas the guard estimated
-- for the billed requests it served, and how many they were (free requests add nothing). The
-- pool's release of a lease adds to the day's row; GET /keys and GET /admin/keys sum today's
-- and the last 30 days' rows. A withdrawn key takes its rows with it.
CREATE TABLE key_spend (
    key_id          bigint NOT NULL REFERENCES upstream_keys (id) ON DELETE CASCADE,
    day             date NOT NULL,
    anlas           bigint NOT NULL DEFAULT 0,
    paid_requests   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);

-- What the pool estimated a key spent since its balance was last read: a probe compares the
-- balance it reads with the one the pool expected (the stored anlas, already lowered by each
-- estimate) and logs the difference, so a wrong estimate is noticed; then it starts again.
ALTER TABLE upstream_keys ADD COLUMN spent_since_check bigint NOT NULL DEFAULT 0;
