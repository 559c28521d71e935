-- Sign-in failures that cannot be aimed at someone else (issue 11).
--
-- Failures are counted per (account name, client address bucket): an IPv4 address or an
-- IPv6 /64. Ten failures lock that pair only, so nobody can lock the admin out from their
-- own address. The row with addr '*' counts the account's failures from every address and
-- drives a growing delay, which applies only to addresses that have failed themselves: a
-- client with no failure on the account is never delayed or refused.
CREATE TABLE auth_login_failures (
    name        text NOT NULL,        -- the account name, lower case (known or not)
    addr        text NOT NULL,        -- the address bucket, or '*' for the whole account
    failures    integer NOT NULL,
    last_at     timestamptz NOT NULL, -- the latest failure (or reservation)
    PRIMARY KEY (name, addr)
);
CREATE INDEX auth_login_failures_last ON auth_login_failures (last_at);

-- auth_login_reserve decides whether an attempt on p_name from p_addr may check a password,
-- and if so counts it as a failure before the hash runs (auth_login_refund gives it back on
-- success). Every attempt on one name takes the account row's lock first, so parallel
-- guesses are counted one after the other and none slips past the check. verdict: 'ok',
-- 'locked' (this pair reached p_threshold) or 'slow' (this address has failed and the
-- account's delay has not passed); retry is the wait in seconds.
CREATE FUNCTION auth_login_reserve(p_name text, p_addr text, p_threshold int, p_minutes int,
                                   p_slow_after int, p_slow_max int,
                                   OUT verdict text, OUT retry bigint)
LANGUAGE plpgsql AS $$
DECLARE
    win interval := make_interval(mins => p_minutes);
    acct_failures int;
    acct_last timestamptz;
    pair_failures int := 0;
    pair_last timestamptz;
    until_at timestamptz;
BEGIN
    verdict := 'ok';
    retry := 0;
    INSERT INTO auth_login_failures AS f (name, addr, failures, last_at)
        VALUES (p_name, '*', 0, now())
        ON CONFLICT (name, addr) DO UPDATE
        SET failures = CASE WHEN f.last_at <= now() - win THEN 0 ELSE f.failures END
        RETURNING f.failures, f.last_at INTO acct_failures, acct_last;
    SELECT f.failures, f.last_at INTO pair_failures, pair_last
        FROM auth_login_failures f WHERE f.name = p_name AND f.addr = p_addr FOR UPDATE;
    IF NOT FOUND OR pair_last <= now() - win THEN
        pair_failures := 0;
    END IF;
    IF p_threshold > 0 AND pair_failures >= p_threshold THEN
        verdict := 'locked';
        retry := greatest(1, ceil(extract(epoch FROM pair_last + win - now())))::bigint;
        RETURN;
    END IF;
    IF pair_failures > 0 AND p_slow_after > 0 AND acct_failures >= p_slow_after THEN
        until_at := acct_last + make_interval(secs => least(p_slow_max::double precision,
                                                             power(2, acct_failures - p_slow_after)));
        IF until_at > now() THEN
            verdict := 'slow';
            retry := greatest(1, ceil(extract(epoch FROM until_at - now())))::bigint;
            RETURN;
        END IF;
    END IF;
    INSERT INTO auth_login_failures AS f (name, addr, failures, last_at)
        VALUES (p_name, p_addr, 1, now())
        ON CONFLICT (name, addr) DO UPDATE
        SET failures = CASE WHEN f.last_at <= now() - win THEN 1 ELSE f.failures + 1 END,
            last_at = now();
    UPDATE auth_login_failures SET failures = acct_failures + 1, last_at = now()
        WHERE name = p_name AND addr = '*';
END $$;

-- auth_login_refund gives back the slot of an attempt that turned out right: the address
-- has shown it knows the password, so its failures on the name (the reserved slot among them)
-- are forgotten, here and in the account's count.
CREATE FUNCTION auth_login_refund(p_name text, p_addr text) RETURNS void
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM auth_login_failures WHERE name = p_name AND addr = p_addr
        RETURNING failures
    )
    UPDATE auth_login_failures
        SET failures = greatest(0, failures - coalesce((SELECT sum(failures) FROM gone), 1))
        WHERE name = p_name AND addr = '*';
$$;
