-- The auth service: indexes for its own queries.

-- Pruning old throttle windows (auth_throttle_prune) scans by time.
CREATE INDEX auth_throttle_window ON auth_throttle (window_start);

-- "Is there still an active admin?" runs on every admin change and at start-up.
CREATE INDEX users_active_admins ON users (id) WHERE role = 'admin' AND NOT disabled;
