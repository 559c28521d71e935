/* Rate rule, GCRA rows and in-flight counters. GCRA with emission interval T = 60 s / rpm and
 * a window of one minute: a request is allowed when the theoretical arrival time, advanced
 * by T, stays within a minute of now, so a quiet user may burst a minute's worth at once. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "np/clock.h"
#include "np/db.h"
#include "prepared.h"

#define WINDOW_MS 60000.0

int64_t
pool_rpm_compute(const pool_settings *ps, int64_t override, int64_t healthy)
{
    if (override >= 0) {
        return override;
    }
    if (strcmp(ps->RATE_LIMIT_MODE, "manual") == 0) {
        return ps->MANUAL_GLOBAL_RPM;
    }
    int64_t base = ps->BASE_RPM;
    if (ps->BASE_RPM_CONTRIBUTOR_ONLY && healthy == 0) {
        base = 0;
    }
    int64_t rpm = base + ps->PER_KEY_RPM * healthy;
    return rpm < ps->MAX_RPM ? rpm : ps->MAX_RPM;
}

/* rpm_now: the rate rule over the current settings. */
static int64_t
rpm_now(const np_config *cfg, int64_t override, int64_t healthy)
{
    np_settings *snap = np_config_acquire(cfg);
    int64_t rpm = pool_rpm_compute(NP_SETTINGS_OF(snap, pool), override, healthy);
    np_settings_release(snap);
    return rpm;
}

bool
pool_rate_needs_contribution(const np_config *cfg, const pool_user_limits *lim)
{
    np_settings *snap = np_config_acquire(cfg);
    const pool_settings *ps = NP_SETTINGS_OF(snap, pool);
    bool gate = strcmp(ps->RATE_LIMIT_MODE, "manual") != 0 && ps->BASE_RPM_CONTRIBUTOR_ONLY;
    np_settings_release(snap);
    return gate && lim->healthy == 0 && lim->rpm <= 0;
}

/* The inputs of the rate rule: the user's override (-1: none) and keys. */
static np_err
read_inputs(PGconn *c, int64_t uid, int64_t *override, int64_t *contributed, int64_t *healthy)
{
    char uid_s[24];
    snprintf(uid_s, sizeof(uid_s), "%lld", (long long)uid);
    const char *params[] = {uid_s};
    PGresult *res = NULL;
    np_err err =
        pool_db_exec_prepared(c, "pool_limits",
                              "SELECT coalesce(u.rpm_override, -1), count(k.id), count(k.id) "
                              "FILTER (WHERE k.enabled AND k.state IN ('active', 'cooling')) "
                              "FROM users u LEFT JOIN upstream_keys k ON k.owner_id = u.id "
                              "WHERE u.id = $1 GROUP BY u.id",
                              1, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 0) {
        err = NP_ERR_NOT_FOUND;
    }
    if (err == NP_ERR_OK) {
        np_db_row row = np_db_row_at(res, 0);
        *override = np_db_int(&row, 0);
        *contributed = np_db_int(&row, 1);
        *healthy = np_db_int(&row, 2);
        err = row.err;
    }
    PQclear(res);
    return err;
}

np_err
pool_user_limits_read(PGconn *c, const np_config *cfg, int64_t uid, pool_user_limits *out)
{
    int64_t override;
    np_err err = read_inputs(c, uid, &override, &out->contributed, &out->healthy);
    if (err == NP_ERR_OK) {
        out->rpm = rpm_now(cfg, override, out->healthy);
    }
    return err;
}

/* A direct-mapped table: a user whose slot another user took is read again, nothing more. */
#define LIMITS_SLOTS 1024

typedef struct {
    int64_t uid; /* 0: empty */
    int64_t override, contributed, healthy;
    unsigned version;
    int64_t read_ms;
} limits_entry;

struct pool_limits_cache {
    pthread_mutex_t mu;
    limits_entry slots[LIMITS_SLOTS];
};

pool_limits_cache *
pool_limits_cache_new(void)
{
    pool_limits_cache *lc = calloc(1, sizeof(*lc));
    if (lc != NULL) {
        pthread_mutex_init(&lc->mu, NULL);
    }
    return lc;
}

void
pool_limits_cache_free(pool_limits_cache *lc)
{
    if (lc == NULL) {
        return;
    }
    pthread_mutex_destroy(&lc->mu);
    free(lc);
}

np_err
pool_user_limits_cached(pool_limits_cache *lc, PGconn *c, const np_config *cfg, int64_t uid,
                        unsigned version, pool_user_limits *out)
{
    limits_entry *e = &lc->slots[((uint64_t)uid * 0x9E3779B97F4A7C15ull) >> 54];
    int64_t now = np_now_ms();
    pthread_mutex_lock(&lc->mu);
    limits_entry hit = *e;
    pthread_mutex_unlock(&lc->mu);
    if (hit.uid != uid || hit.version != version || now - hit.read_ms >= POOL_LIMITS_TTL_MS) {
        hit = (limits_entry){.uid = uid, .version = version, .read_ms = now};
        np_err err = read_inputs(c, uid, &hit.override, &hit.contributed, &hit.healthy);
        if (err != NP_ERR_OK) {
            return err;
        }
        pthread_mutex_lock(&lc->mu);
        *e = hit;
        pthread_mutex_unlock(&lc->mu);
    }
    out->contributed = hit.contributed;
    out->healthy = hit.healthy;
    out->rpm = rpm_now(cfg, hit.override, hit.healthy);
    return NP_ERR_OK;
}

void
pool_rate_from_ahead(int64_t rpm, double ahead_ms, bool allowed, pool_rate_result *out)
{
    double t = WINDOW_MS / (double)rpm;
    if (ahead_ms < 0) {
        ahead_ms = 0;
    }
    out->allowed = allowed;
    out->limit = rpm;
    double rem = floor((WINDOW_MS - ahead_ms) / t + 1e-9);
    out->remaining = rem < 0 ? 0 : (int64_t)rem;
    out->reset_s = (int64_t)ceil(ahead_ms / 1000.0);
    out->retry_after_s = 0;
    if (!allowed) {
        double wait = ahead_ms + t - WINDOW_MS;
        out->retry_after_s = wait < 1000 ? 1 : (int64_t)ceil(wait / 1000.0);
    }
}

/* One statement decides and records: SET expressions all see the old row. */
#define TAKE_SQL                                                                                   \
    "INSERT INTO rate_limits AS r (user_id, tat, allowed) VALUES ($1, "                            \
    "now() + $2::float8 * interval '1 millisecond', true) "                                        \
    "ON CONFLICT (user_id) DO UPDATE SET "                                                         \
    "allowed = greatest(r.tat, now()) + $2::float8 * interval "                                    \
    "'1 millisecond' <= now() + $3::float8 * interval '1 millisecond', "                           \
    "tat = CASE WHEN greatest(r.tat, now()) + $2::float8 * interval "                              \
    "'1 millisecond' <= now() + $3::float8 * interval '1 millisecond' "                            \
    "THEN greatest(r.tat, now()) + $2::float8 * interval '1 millisecond' "                         \
    "ELSE r.tat END "                                                                              \
    "RETURNING allowed, extract(epoch FROM (tat - now())) * 1000"

/* The same figures without spending anything. */
#define PEEK_SQL                                                                                   \
    "SELECT true, coalesce((SELECT extract(epoch FROM (greatest(tat, "                             \
    "now()) - now())) * 1000 FROM rate_limits WHERE user_id = $1), 0) "                            \
    "WHERE $2::float8 > 0 AND $3::float8 > 0"

np_err
pool_rate_take(PGconn *c, int64_t uid, int64_t rpm, bool consume, pool_rate_result *out)
{
    char uid_s[24], t_s[32], w_s[32];
    snprintf(uid_s, sizeof(uid_s), "%lld", (long long)uid);
    snprintf(t_s, sizeof(t_s), "%.3f", WINDOW_MS / (double)rpm);
    snprintf(w_s, sizeof(w_s), "%.0f", WINDOW_MS);
    const char *params[] = {uid_s, t_s, w_s};
    PGresult *res = NULL;
    np_err err = consume ? pool_db_exec_prepared(c, "pool_rate_take", TAKE_SQL, 3, params, &res)
                         : pool_db_exec_prepared(c, "pool_rate_peek", PEEK_SQL, 3, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        np_db_row row = np_db_row_at(res, 0);
        bool allowed = np_db_bool(&row, 0);
        double ahead = np_db_num(&row, 1);
        if ((err = row.err) == NP_ERR_OK) {
            pool_rate_from_ahead(rpm, ahead, allowed, out);
        }
    } else if (err == NP_ERR_OK) {
        err = NP_ERR_INTERNAL;
    }
    PQclear(res);
    return err;
}

/* A small open hash of user ids; entries whose count falls to 0 are kept as tombstones and
 * reused, so the table only grows with distinct concurrent users. */
typedef struct {
    int64_t uid;
    int64_t n;
} slot;

struct pool_inflight {
    pthread_mutex_t mu;
    slot *slots;
    size_t cap, used;
};

pool_inflight *
pool_inflight_new(void)
{
    pool_inflight *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->cap = 256;
    f->slots = calloc(f->cap, sizeof(slot));
    if (f->slots == NULL) {
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void
pool_inflight_free(pool_inflight *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_destroy(&f->mu);
    free(f->slots);
    free(f);
}

static slot *
find(slot *slots, size_t cap, int64_t uid, bool insert)
{
    size_t i = (size_t)((uint64_t)uid * 0x9E3779B97F4A7C15ull) & (cap - 1);
    slot *free_slot = NULL;
    for (size_t k = 0; k < cap; k++, i = (i + 1) & (cap - 1)) {
        if (slots[i].uid == uid) {
            return &slots[i];
        }
        if (slots[i].uid == 0) {
            break;
        }
        if (slots[i].n == 0 && free_slot == NULL) {
            free_slot = &slots[i];
        }
    }
    if (!insert) {
        return NULL;
    }
    if (free_slot == NULL && slots[i].uid == 0) {
        free_slot = &slots[i];
    }
    if (free_slot != NULL) {
        free_slot->uid = uid;
        free_slot->n = 0;
    }
    return free_slot;
}

static bool
grow(pool_inflight *f)
{
    size_t cap = f->cap * 2;
    slot *n = calloc(cap, sizeof(slot));
    if (n == NULL) {
        return false;
    }
    size_t used = 0;
    for (size_t i = 0; i < f->cap; i++) {
        if (f->slots[i].uid != 0 && f->slots[i].n > 0) {
            *find(n, cap, f->slots[i].uid, true) = f->slots[i];
            used++;
        }
    }
    f->used = used;
    free(f->slots);
    f->slots = n;
    f->cap = cap;
    return true;
}

bool
pool_inflight_enter(pool_inflight *f, int64_t uid, int64_t limit)
{
    pthread_mutex_lock(&f->mu);
    slot *s = find(f->slots, f->cap, uid, false);
    if (s == NULL) {
        if (f->used * 2 >= f->cap && !grow(f)) {
            pthread_mutex_unlock(&f->mu);
            return false;
        }
        s = find(f->slots, f->cap, uid, true);
        f->used++;
    }
    bool ok = s != NULL && s->n < limit;
    if (ok) {
        s->n++;
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

void
pool_inflight_leave(pool_inflight *f, int64_t uid)
{
    pthread_mutex_lock(&f->mu);
    slot *s = find(f->slots, f->cap, uid, false);
    if (s != NULL && s->n > 0) {
        s->n--;
    }
    pthread_mutex_unlock(&f->mu);
}
