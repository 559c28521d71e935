/* Shared login and registration throttling in Postgres. */
#include "throttle.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/db.h"

void
auth_throttle_addr(const char *ip, char out[AUTH_ADDR_MAX])
{
    unsigned char a[16];
    struct in_addr a4;
    snprintf(out, AUTH_ADDR_MAX, "%s", ip);
    if (inet_pton(AF_INET, ip, &a4) == 1 || inet_pton(AF_INET6, ip, a) != 1) {
        return;
    }
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        inet_ntop(AF_INET, a + 12, out, AUTH_ADDR_MAX);
        return;
    }
    /* One customer usually holds a whole /64: keying on the full address would let them
     * rotate through 2^64 buckets. */
    memset(a + 8, 0, 8);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a, text, sizeof(text));
    snprintf(out, AUTH_ADDR_MAX, "%s/64", text);
}

np_err
auth_throttle_hit(PGconn *c, const char *kind, const char *ip, int64_t limit, int64_t *retry_after)
{
    if (limit <= 0) {
        return NP_ERR_OK;
    }
    char addr[AUTH_ADDR_MAX], bucket[128];
    auth_throttle_addr(ip, addr);
    snprintf(bucket, sizeof(bucket), "%s-ip:%s", kind, addr);
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
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        np_db_row row = np_db_row_at(res, 0);
        int64_t hits = np_db_int(&row, 0), retry = np_db_int(&row, 1);
        if (row.err != NP_ERR_OK) {
            err = row.err;
        } else if (hits > limit) {
            *retry_after = retry;
            err = NP_ERR_RATE_LIMITED;
        }
    }
    PQclear(res);
    return err;
}

np_err
auth_login_reserve(PGconn *c, const char *name, const char *ip, const auth_lockout_opts *o,
                   int64_t *retry_after)
{
    char addr[AUTH_ADDR_MAX], thr[24], mins[24], after[24], max[24];
    auth_throttle_addr(ip, addr);
    snprintf(thr, sizeof(thr), "%lld", (long long)o->threshold);
    snprintf(mins, sizeof(mins), "%lld", (long long)o->minutes);
    snprintf(after, sizeof(after), "%lld", (long long)o->slow_after);
    snprintf(max, sizeof(max), "%lld", (long long)o->slow_max);
    const char *params[] = {name, addr, thr, mins, after, max};
    PGresult *res = NULL;
    np_err err = np_db_exec(c,
                            "SELECT verdict, retry FROM auth_login_reserve($1, $2, $3::int, "
                            "$4::int, $5::int, $6::int)",
                            6, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) != 1) {
        err = NP_ERR_DB;
    }
    if (err == NP_ERR_OK && strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
        np_db_row row = np_db_row_at(res, 0);
        *retry_after = np_db_int(&row, 1);
        err = row.err != NP_ERR_OK                           ? row.err
              : strcmp(PQgetvalue(res, 0, 0), "locked") == 0 ? NP_ERR_LOCKED
                                                             : NP_ERR_RATE_LIMITED;
    }
    PQclear(res);
    return err;
}

np_err
auth_login_refund(PGconn *c, const char *name, const char *ip)
{
    char addr[AUTH_ADDR_MAX];
    auth_throttle_addr(ip, addr);
    const char *params[] = {name, addr};
    return np_db_exec(c, "SELECT auth_login_refund($1, $2)", 2, params, NULL);
}

np_err
auth_lockout_clear(PGconn *c, const char *name)
{
    const char *params[] = {name};
    return np_db_exec(c, "DELETE FROM auth_login_failures WHERE name = $1", 1, params, NULL);
}

np_err
auth_throttle_prune(PGconn *c)
{
    np_err err =
        np_db_exec(c, "DELETE FROM auth_throttle WHERE window_start < now() - interval '1 day'", 0,
                   NULL, NULL);
    if (err == NP_ERR_OK) {
        err = np_db_exec(c,
                         "DELETE FROM auth_login_failures WHERE last_at < now() - interval '1 day'",
                         0, NULL, NULL);
    }
    return err;
}
