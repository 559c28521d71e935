/* Per-user limits: the request rate of DESIGN.md section 3 (auto: earned by healthy keys
 * contributed; manual: one global rate; users.rpm_override wins), enforced with a GCRA row
 * per user in Postgres so every pool instance shares it, and the in-flight cap per user. */
#ifndef POOL_RATELIMIT_H
#define POOL_RATELIMIT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/config.h"
#include "np/errors.h"
#include "settings.h"

typedef struct {
    int64_t rpm;         /* requests per minute this user may make */
    int64_t contributed; /* keys the user contributed */
    int64_t healthy;     /* of which active or cooling and enabled */
} pool_user_limits;

typedef struct {
    bool allowed;
    int64_t limit;         /* X-RateLimit-Limit */
    int64_t remaining;     /* X-RateLimit-Remaining */
    int64_t reset_s;       /* X-RateLimit-Reset: seconds until the full rate is back */
    int64_t retry_after_s; /* when refused */
} pool_rate_result;

/* pool_rpm_compute: the rate rule, pure, over one snapshot's settings. override < 0 means
 * none. */
int64_t pool_rpm_compute(const pool_settings *ps, int64_t override, int64_t healthy);

/* pool_rate_needs_contribution: whether the gate of the old pool refuses this user: auto
 * mode, BASE_RPM only for contributors, and no healthy contributed key, so no rate at all. */
bool pool_rate_needs_contribution(const np_config *cfg, const pool_user_limits *lim);

/* pool_user_limits_read reads the user's override and keys and computes the rate.
 * NP_ERR_NOT_FOUND for an unknown user; NP_ERR_DB. */
np_err pool_user_limits_read(PGconn *c, const np_config *cfg, int64_t uid, pool_user_limits *out);

/* A short-lived copy of each user's limit inputs (rpm override, keys), so a relayed request
 * does not read them from Postgres each time. An entry lives POOL_LIMITS_TTL_MS and is not
 * used once the version it was read at moves on (the keyring's: a key changed). The rate
 * itself is computed on each use, as settings may change at run time. */
#define POOL_LIMITS_TTL_MS 1000
typedef struct pool_limits_cache pool_limits_cache;
pool_limits_cache *pool_limits_cache_new(void);
void pool_limits_cache_free(pool_limits_cache *lc);
/* pool_user_limits_cached: pool_user_limits_read through the copy (c is used on a miss). */
np_err pool_user_limits_cached(pool_limits_cache *lc, PGconn *c, const np_config *cfg, int64_t uid,
                               unsigned version, pool_user_limits *out);

/* pool_rate_take spends one request of uid's rate rpm (> 0) in one atomic statement; with
 * consume false it only reports the current state. NP_ERR_DB. */
np_err pool_rate_take(PGconn *c, int64_t uid, int64_t rpm, bool consume, pool_rate_result *out);

/* pool_rate_from_ahead: the GCRA arithmetic, pure (exposed for tests). ahead_ms is how far the
 * theoretical arrival time is ahead of now after the decision. */
void pool_rate_from_ahead(int64_t rpm, double ahead_ms, bool allowed, pool_rate_result *out);

/* In-flight requests per user, on this instance. */
typedef struct pool_inflight pool_inflight;
pool_inflight *pool_inflight_new(void);
void pool_inflight_free(pool_inflight *f);
/* pool_inflight_enter counts one more request of uid unless it already has limit. */
bool pool_inflight_enter(pool_inflight *f, int64_t uid, int64_t limit);
void pool_inflight_leave(pool_inflight *f, int64_t uid);

#endif
