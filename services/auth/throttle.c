/* Shared login and registration throttling in Postgres. */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>

#include "np/db.h"

np_err
auth_throttle_hit(PGconn *c, const char *kind, const char *ip, int64_t limit, int64_t *retry_after)
{
    if (limit <= 0) {
        return NP_ERR_OK;
    }
    char bucket[128];
    snprintf(bucket, sizeof(bucket), "%s-ip:%s", kind, ip);
    const char *params[] = {bucket};
    PGresult *res = NULL;
    /* One statement: start a new window when the old one is over, else count the hit. */
    np_err err = np_db_exec(
        c,
        "INSERT INTO auth_throttle AS t (bucket, window_start, hits) VALUES ($1, now(), 1) "
        "ON CONFLICT (bucket) DO UPDATE SET "
        " hits = CASE WHEN t.window_start <= now() - interval '1 minute' THEN 1 "
        "        ELSE t.hits + 1 END, "
        " window_start = CASE WHEN t.window_start <= now() - interval '1 minute' THEN now() "
        "        ELSE t.window_start END "
        "RETURNING hits, greatest(1, ceil(extract(epoch FROM "
        " t.window_start + interval '1 minute' - now())))::bigint",
        1, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1 &&
        strtoll(PQgetvalue(res, 0, 0), NULL, 10) > limit) {
        *retry_after = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        err = NP_ERR_RATE_LIMITED;
    }
    PQclear(res);
    return err;
}

np_err
auth_lockout_check(PGconn *c, const char *name, int64_t threshold, int64_t minutes,
                   int64_t *retry_after)
{
    if (threshold <= 0) {
        return NP_ERR_OK;
    }
    char bucket[128], thr[24], mins[24];
    snprintf(bucket, sizeof(bucket), "lock:%s", name);
    snprintf(thr, sizeof(thr), "%lld", (long long)threshold);
    snprintf(mins, sizeof(mins), "%lld", (long long)minutes);
    const char *params[] = {bucket, thr, mins};
    PGresult *res = NULL;
    np_err err = np_db_exec(c,
                            "SELECT greatest(1, ceil(extract(epoch FROM window_start + "
                            " make_interval(mins => $3::int) - now())))::bigint "
                            "FROM auth_throttle WHERE bucket = $1 AND hits >= $2::int "
                            "AND window_start > now() - make_interval(mins => $3::int)",
                            3, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        *retry_after = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        err = NP_ERR_LOCKED;
    }
    PQclear(res);
    return err;
}

np_err
auth_lockout_fail(PGconn *c, const char *name, int64_t minutes, int64_t *failures)
{
    char bucket[128], mins[24];
    snprintf(bucket, sizeof(bucket), "lock:%s", name);
    snprintf(mins, sizeof(mins), "%lld", (long long)minutes);
    const char *params[] = {bucket, mins};
    PGresult *res = NULL;
    /* window_start is the time of the latest failure here. */
    np_err err = np_db_exec(
        c,
        "INSERT INTO auth_throttle AS t (bucket, window_start, hits) VALUES ($1, now(), 1) "
        "ON CONFLICT (bucket) DO UPDATE SET "
        " hits = CASE WHEN t.window_start <= now() - make_interval(mins => $2::int) THEN 1 "
        "        ELSE t.hits + 1 END, "
        " window_start = now() "
        "RETURNING hits",
        2, params, &res);
    if (err == NP_ERR_OK) {
        *failures = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    }
    PQclear(res);
    return err;
}

np_err
auth_lockout_clear(PGconn *c, const char *name)
{
    char bucket[128];
    snprintf(bucket, sizeof(bucket), "lock:%s", name);
    const char *params[] = {bucket};
    return np_db_exec(c, "DELETE FROM auth_throttle WHERE bucket = $1", 1, params, NULL);
}

np_err
auth_throttle_prune(PGconn *c)
{
    return np_db_exec(c, "DELETE FROM auth_throttle WHERE window_start < now() - interval '1 day'",
                      0, NULL, NULL);
}
