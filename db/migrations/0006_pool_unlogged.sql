-- The per-user GCRA rows are ephemeral: a row lost in a crash only lets its user start again
-- with a full minute's burst. UNLOGGED writes no WAL for them, so the one statement every
-- relayed request makes (pool_rate_take) commits without waiting for a WAL flush, and the
-- hot row's lock is held for less time. (Unlogged tables are emptied by crash recovery and
-- are not copied to standbys; both only reset rates.)
--
-- key_leases stays logged: the pool's scheduler already commits leases with
-- synchronous_commit off (measured as fast here), and a logged table keeps the leases of
-- running generations through a crash restart or a failover to a standby.
ALTER TABLE rate_limits SET UNLOGGED;
