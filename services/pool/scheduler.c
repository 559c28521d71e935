/* The scheduler thread: lease grants, releases, waiter deadlines, lease renewal, and the
 * LISTEN thread that hears other instances' releases. See scheduler.h for the state flow.
 *
 * Why one thread: every lease grant and key update is a short statement on one connection,
 * so ordering is simple (a release is applied before the pass that may hand the key on) and
 * no worker thread is held by a waiting request.
 *
 * The connection is the scheduler's own, not one of the shared pool (where rpc workers could
 * keep it waiting), and it commits with synchronous_commit off: a grant or a release does not
 * wait for the WAL to reach the disk. A Postgres crash may lose the last fraction of a second
 * of them, which is harmless: a lost lease row frees the key early (NovelAI would answer a
 * second generation with its 429 lock, which the relay already treats as "try another key"),
 * and a lost release leaves a lease that lapses at its expiry. */
#include "scheduler.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyring.h"
#include "keystore.h"
#include "np/clock.h"
#include "np/crypto.h"
#include "np/list.h"
#include "np/log.h"
#include "prepared.h"
#include "settings.h"

/* A lease of a request still running: only these are renewed, so a lease whose release was
 * lost (a failed connection) lapses at its expiry instead of living as long as the instance. */
typedef struct {
    int64_t key_id;
    int slot;
} held_lease;

typedef struct rel {
    pool_lease lease;
    pool_release_info info;
    pool_waiter *retry;
    np_list_node node; /* on pool_sched.rels, then on a turn's own list */
} rel;

struct pool_sched {
    np_db *db;
    const np_config *cfg;
    np_events *ev;
    pool_keyring *kr;
    uint8_t enc_key[NP_KEY_LEN];
    char holder[96];
    char *db_url;
    PGconn *conn;        /* the scheduler thread's own (sched_conn) */
    atomic_int conn_pid; /* its backend, whose own NOTIFYs the listener ignores */
    pthread_t thread, listener;
    bool listener_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t listen_cv; /* the listener's retry wait; broadcast when stopping */
    fairq q;                  /* the waiters (fairq.h) */
    np_list rels;             /* the releases not applied yet (rel), oldest first */
    held_lease *held;
    int nheld, held_cap;
    bool wake, draining, stopping;
    pool_tick_fn tick;
    void *tick_arg;
};

/* One eligible key of a pass: a usable key (keyring.h) not cooling down. */
typedef struct {
    pool_ring_key *k;
    int free; /* lease slots free (leaseless waiters need none) */
} cand;

/* The keys a pass read, and its eligible ones, least recently used first. */
typedef struct {
    pool_ring_key *keys;
    int nkeys;
    cand *cs;
    int n;
} cands;

bool
pool_sched_fits(const pool_waiter *w, const pool_key_policy *k, int64_t *cost, char *why,
                size_t whylen)
{
    switch (w->need->kind) {
    case POOL_KIND_TEXT:
    case POOL_KIND_FREE:
        *cost = 0;
        if (!k->active) {
            snprintf(why, whylen, "no key with an active subscription");
            return false;
        }
        if (w->need_opus && k->tier != 3) {
            snprintf(why, whylen, "model %s needs an Opus key", w->need->model);
            return false;
        }
        return true;
    default: return pool_anlas_fits(w->need, k, cost, why, whylen);
    }
}

bool
pool_waiter_take_running(pool_waiter *w)
{
    if (w->running == NULL || w->counted) {
        return true;
    }
    w->counted = pool_inflight_enter(w->running, w->user_id, w->max_running);
    return w->counted;
}

bool
pool_waiter_tried(const pool_waiter *w, int64_t key_id)
{
    for (int i = 0; i < w->ntried; i++) {
        if (w->tried[i] == key_id) {
            return true;
        }
    }
    return false;
}

void
pool_waiter_give_running(pool_waiter *w)
{
    if (w->counted) {
        w->counted = false;
        pool_inflight_leave(w->running, w->user_id);
    }
}

/* ---- queue (fairq.h, under s->mu) ---- */

static pool_waiter *
waiter_of(fairq_item *it)
{
    return (pool_waiter *)(void *)((char *)it - offsetof(pool_waiter, qi));
}

np_err
pool_sched_enqueue(pool_sched *s, pool_waiter *w)
{
    int max = (int)NP_SETTING_NOW(s->cfg, pool, USER_QUEUE_MAX);
    pthread_mutex_lock(&s->mu);
    if (s->draining) {
        pthread_mutex_unlock(&s->mu);
        return NP_ERR_CLOSED;
    }
    w->qi.user = w->user_id;
    w->qi.deadline_ms = w->deadline_ms;
    np_err err = fairq_push(&s->q, &w->qi, max);
    if (err == NP_ERR_OK) {
        s->wake = true;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* A retry keeps its place: the head of its user's queue, past the cap. */
static void
requeue_front(pool_sched *s, pool_waiter *w)
{
    pthread_mutex_lock(&s->mu);
    w->qi.user = w->user_id;
    w->qi.deadline_ms = w->deadline_ms;
    bool queued = !s->draining && fairq_push_front(&s->q, &w->qi) == NP_ERR_OK;
    pthread_mutex_unlock(&s->mu);
    if (!queued) {
        w->on_timeout(w->arg, w);
    }
}

/* held_add / held_remove keep the running leases (under s->mu). */
static bool
held_add(pool_sched *s, int64_t key_id, int slot)
{
    if (s->nheld == s->held_cap) {
        int cap = s->held_cap > 0 ? s->held_cap * 2 : 64;
        held_lease *h = realloc(s->held, (size_t)cap * sizeof(*h));
        if (h == NULL) {
            return false;
        }
        s->held = h;
        s->held_cap = cap;
    }
    s->held[s->nheld++] = (held_lease){key_id, slot};
    return true;
}

static void
held_remove(pool_sched *s, int64_t key_id, int slot)
{
    for (int i = 0; i < s->nheld; i++) {
        if (s->held[i].key_id == key_id && s->held[i].slot == slot) {
            s->held[i] = s->held[--s->nheld];
            return;
        }
    }
}

/* Whether a leaseless use may only be counted: nothing to write on the key but the use. */
static bool
only_a_use(const pool_lease *lease, const pool_release_info *info, const pool_waiter *retry)
{
    const pool_outcome_action *a = &info->action;
    return lease->slot < 0 && lease->settled && retry == NULL && a->cooldown_s == 0 && !a->strike &&
           (a->state == NULL || strcmp(a->state, "active") == 0) && info->spent == 0 &&
           info->error[0] == '\0' && !info->v5_read;
}

void
pool_sched_release(pool_sched *s, pool_lease *lease, const pool_release_info *info,
                   pool_waiter *retry)
{
    if (only_a_use(lease, info, retry)) {
        np_wipe(lease->token, sizeof(lease->token));
        if (info->used) {
            pool_keyring_count_use(s->kr, lease->key_id);
        }
        return;
    }
    if (lease->slot >= 0) {
        pthread_mutex_lock(&s->mu);
        held_remove(s, lease->key_id, lease->slot); /* no longer renewed */
        pthread_mutex_unlock(&s->mu);
    }
    rel *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        /* Without memory the lease lapses on its own (TTL); the retry answers at once. */
        np_wipe(lease->token, sizeof(lease->token));
        if (retry != NULL) {
            retry->on_timeout(retry->arg, retry);
        }
        return;
    }
    r->lease = *lease;
    np_wipe(lease->token, sizeof(lease->token));
    np_wipe(r->lease.token, sizeof(r->lease.token)); /* the scheduler needs only the ids */
    r->info = *info;
    r->retry = retry;
    pthread_mutex_lock(&s->mu);
    np_list_push_back(&s->rels, &r->node);
    s->wake = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void
pool_sched_abort(pool_sched *s, pool_waiter *w)
{
    /* Only the scheduler thread unlinks waiters (a pass walks the queue outside the lock):
     * an expired deadline makes it do so. */
    pthread_mutex_lock(&s->mu);
    w->deadline_ms = 0; /* kept if it is queued again (a retry on its way back) */
    fairq_abort(&w->qi);
    s->wake = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int
pool_sched_leases_held(pool_sched *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nheld;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int
pool_sched_depth(pool_sched *s)
{
    pthread_mutex_lock(&s->mu);
    int d = fairq_depth(&s->q);
    pthread_mutex_unlock(&s->mu);
    return d;
}

void
pool_sched_set_tick(pool_sched *s, pool_tick_fn fn, void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->tick = fn;
    s->tick_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

/* ---- database work (scheduler thread) ---- */

/* A release that changes what the keyrings hold (state, cooldown, streak) says so: the
 * NOTIFY payload 'k' makes every instance reload its copy. */
#define KEY_CHANGED                                                                                \
    "(old.state <> k.state OR old.fail_streak <> k.fail_streak OR $6::integer > 0 OR "             \
    "$10::boolean IS NOT NULL)"

#define RELEASE_SQL                                                                                \
    "WITH l AS (DELETE FROM key_leases WHERE key_id = $1 AND slot = $2 AND holder = $3), "         \
    "sp AS (INSERT INTO key_spend (key_id, day, anlas, paid_requests) SELECT $1, current_date, "   \
    "$7::bigint, 1 WHERE $7::bigint > 0 ON CONFLICT (key_id, day) DO UPDATE SET anlas = "          \
    "key_spend.anlas + EXCLUDED.anlas, paid_requests = key_spend.paid_requests + 1), "             \
    "old AS (SELECT id, state, fail_streak FROM upstream_keys WHERE id = $1 FOR UPDATE) "          \
    "UPDATE upstream_keys k SET "                                                                  \
    "state = CASE WHEN $4::text IS NULL THEN k.state "                                             \
    "WHEN k.state IN ('exhausted', 'invalid', 'expired', 'pending') AND $4::text IN "              \
    "('active', 'cooling') THEN k.state ELSE $4::text END, "                                       \
    "fail_streak = CASE $5 WHEN 'reset' THEN 0 WHEN 'strike' THEN k.fail_streak + 1 "              \
    "ELSE k.fail_streak END, "                                                                     \
    "cooldown_until = CASE WHEN $6::integer > 0 THEN greatest(coalesce(k.cooldown_until, "         \
    "now()), now() + $6::integer * interval '1 second') ELSE k.cooldown_until END, "               \
    "anlas = CASE WHEN k.anlas IS NULL THEN NULL ELSE greatest(k.anlas - $7::bigint, 0) END, "     \
    "spent_since_check = k.spent_since_check + $7::bigint, "                                       \
    "last_used_at = now(), "                                                                       \
    "uses_today = CASE WHEN $8::integer = 0 THEN k.uses_today WHEN k.uses_day = "                  \
    "current_date THEN k.uses_today + 1 ELSE 1 END, "                                              \
    "uses_day = CASE WHEN $8::integer = 0 THEN k.uses_day ELSE current_date END, "                 \
    "last_error = coalesce($9, k.last_error), "                                                    \
    "v5_negative = CASE WHEN $10::boolean IS NULL THEN k.v5_negative ELSE $10::boolean END, "      \
    "v5_percent = CASE WHEN $10::boolean IS NULL THEN k.v5_percent ELSE $11::double precision "    \
    "END "                                                                                         \
    "FROM old WHERE k.id = old.id "                                                                \
    "RETURNING old.state, k.state, pg_notify('pool_keys', CASE WHEN " KEY_CHANGED                  \
    " THEN 'k' ELSE '' END)::text, " KEY_CHANGED

/* The scheduler's connection, (re)made when needed; NULL while the database is unreachable
 * (the next turn tries again). */
static PGconn *
sched_conn(pool_sched *s)
{
    if (s->conn != NULL && np_db_alive(s->conn)) {
        return s->conn;
    }
    PQfinish(s->conn);
    char why[256];
    s->conn =
        np_db_connect(s->db, "naipool-pool-sched", "-c synchronous_commit=off", why, sizeof(why));
    if (s->conn == NULL) {
        np_log_warn("pool", "scheduler cannot connect: %s", why);
    } else {
        /* prepared now: releases are pipelined, where preparing on demand cannot be */
        PGresult *r = PQprepare(s->conn, "pool_release", RELEASE_SQL, 11, NULL);
        if (np_err_from_pg(r) != NP_ERR_OK) {
            np_log_warn("pool", "scheduler cannot prepare its statements");
            PQfinish(s->conn);
            s->conn = NULL;
        }
        PQclear(r);
    }
    atomic_store(&s->conn_pid, s->conn != NULL ? PQbackendPID(s->conn) : 0);
    return s->conn;
}

/* Sends the release statement of r into c's pipeline, followed by a sync point (so each
 * release is a transaction of its own); false when the connection failed. */
static bool
release_send(pool_sched *s, PGconn *c, const rel *r)
{
    const pool_outcome_action *a = &r->info.action;
    pool_cooldowns cd;
    pool_cooldowns_read(s->cfg, &cd);
    int cool = pool_cooldown_for(a, r->lease.fail_streak, &cd);
    char key_s[24], slot_s[16], cool_s[16], spent_s[24], pct_s[32];
    snprintf(key_s, sizeof(key_s), "%lld", (long long)r->lease.key_id);
    snprintf(slot_s, sizeof(slot_s), "%d", r->lease.slot);
    snprintf(cool_s, sizeof(cool_s), "%d", cool);
    snprintf(spent_s, sizeof(spent_s), "%lld", (long long)r->info.spent);
    snprintf(pct_s, sizeof(pct_s), "%.6f", r->info.v5_percent);
    const char *params[] = {
        key_s,
        slot_s,
        s->holder,
        a->state,
        a->reset_streak ? "reset"
        : a->strike     ? "strike"
                        : "keep",
        cool_s,
        spent_s,
        r->info.used ? "1" : "0",
        r->info.error[0] ? r->info.error : NULL,
        r->info.v5_read ? (r->info.v5_negative ? "true" : "false") : NULL,
        r->info.v5_read ? pct_s : NULL,
    };
    return PQsendQueryPrepared(c, "pool_release", 11, params, NULL, NULL, 0) == 1 &&
           PQpipelineSync(c) == 1;
}

/* What a release's answer means: the keyrings reload on a change, and a state change is an
 * event. */
static void
release_done(pool_sched *s, const rel *r, PGresult *res)
{
    np_err err = np_err_from_pg(res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        np_db_row row = np_db_row_at(res, 0);
        const char *from = np_db_str(&row, 0), *to = np_db_str(&row, 1);
        bool changed = np_db_bool(&row, 3);
        if (row.err != NP_ERR_OK) {
            return; /* logged by the reader */
        }
        if (changed) {
            pool_keyring_invalidate(s->kr); /* here at once; elsewhere through the NOTIFY */
        }
        if (strcmp(from, to) != 0) {
            np_events_emit(s->ev, "key.state",
                           json_pack("{s:I, s:s, s:s, s:s, s:s}", "key_id",
                                     (json_int_t)r->lease.key_id, "from", from, "to", to, "reason",
                                     r->info.error[0] ? r->info.error : "relay", "request_id",
                                     r->info.rid));
        }
    } else if (err != NP_ERR_OK) {
        const char *m = res != NULL ? PQresultErrorMessage(res) : "no answer";
        np_log_warn("pool", "releasing key %lld failed (%.*s); its lease will lapse",
                    (long long)r->lease.key_id, (int)strcspn(m, "\n"), m);
    }
}

static void
free_cands(cands *cd)
{
    pool_ring_keys_free(cd->keys, cd->nkeys);
    free(cd->cs);
}

static int
by_last_use(const void *a, const void *b)
{
    uint64_t x = ((const cand *)a)->k->picked, y = ((const cand *)b)->k->picked;
    return (x > y) - (x < y);
}

/* Reads the usable keys and keeps those not cooling down, least recently used first, each
 * with its free slots. */
static np_err
load_cands(pool_sched *s, PGconn *c, cands *out)
{
    *out = (cands){0};
    np_err err = pool_usable_keys_read(c, &out->keys, &out->nkeys);
    if (err != NP_ERR_OK) {
        return err;
    }
    int64_t max = NP_SETTING_NOW(s->cfg, pool, KEY_MAX_CONCURRENCY);
    int64_t now = np_now_ms();
    out->cs = calloc((size_t)(out->nkeys > 0 ? out->nkeys : 1), sizeof(cand));
    if (out->cs == NULL) {
        free_cands(out);
        return NP_ERR_NOMEM;
    }
    for (int i = 0; i < out->nkeys; i++) {
        pool_ring_key *k = &out->keys[i];
        if (k->cool_until_ms > now) {
            continue;
        }
        int64_t free_slots = max - k->leased;
        out->cs[out->n++] = (cand){k, free_slots > 0 ? (int)free_slots : 0};
    }
    qsort(out->cs, (size_t)out->n, sizeof(cand), by_last_use);
    return NP_ERR_OK;
}

/* Takes a free slot of key id for this instance; false when another instance got there
 * first. The slot row is the lock: its primary key makes the race safe, and a slot whose
 * lease expired may be taken over. */
static bool
lease_take(pool_sched *s, PGconn *c, int64_t id, int *slot)
{
    char id_s[24], max_s[16], ttl_s[16];
    snprintf(id_s, sizeof(id_s), "%lld", (long long)id);
    snprintf(max_s, sizeof(max_s), "%lld",
             (long long)NP_SETTING_NOW(s->cfg, pool, KEY_MAX_CONCURRENCY));
    snprintf(ttl_s, sizeof(ttl_s), "%lld",
             (long long)NP_SETTING_NOW(s->cfg, pool, LEASE_TTL_SECONDS));
    const char *params[] = {id_s, s->holder, max_s, ttl_s};
    PGresult *res = NULL;
    np_err err = pool_db_exec_prepared(
        c, "pool_lease_take",
        "INSERT INTO key_leases (key_id, slot, holder, expires_at) "
        "SELECT $1, g, $2, now() + $4::integer * interval '1 second' "
        "FROM generate_series(0, $3::integer - 1) g WHERE NOT EXISTS (SELECT 1 FROM key_leases "
        "l WHERE l.key_id = $1 AND l.slot = g AND l.expires_at > now()) ORDER BY g LIMIT 1 "
        "ON CONFLICT (key_id, slot) DO UPDATE SET holder = EXCLUDED.holder, expires_at = "
        "EXCLUDED.expires_at WHERE key_leases.expires_at <= now() RETURNING slot",
        4, params, &res);
    bool ok = err == NP_ERR_OK && PQntuples(res) == 1;
    if (ok) {
        np_db_row row = np_db_row_at(res, 0);
        *slot = (int)np_db_int(&row, 0);
        ok = row.err == NP_ERR_OK;
    }
    PQclear(res);
    return ok;
}

static void
lease_drop(pool_sched *s, PGconn *c, int64_t id, int slot)
{
    char id_s[24], slot_s[16];
    snprintf(id_s, sizeof(id_s), "%lld", (long long)id);
    snprintf(slot_s, sizeof(slot_s), "%d", slot);
    const char *params[] = {id_s, slot_s, s->holder};
    np_db_exec(c, "DELETE FROM key_leases WHERE key_id = $1 AND slot = $2 AND holder = $3", 3,
               params, NULL);
}

/* Finds and leases a key for w (a leaseless waiter takes no slot); the candidate order is
 * least recently used first, and a key just granted moves to the back. */
static bool
grant_one(pool_sched *s, PGconn *c, cand *cs, int *order, int n, pool_waiter *w)
{
    char why[160];
    for (int oi = 0; oi < n; oi++) {
        cand *x = &cs[order[oi]];
        pool_ring_key *k = x->k;
        int64_t cost;
        if ((!w->leaseless && x->free <= 0) || k->sealed == NULL || pool_waiter_tried(w, k->id) ||
            !pool_sched_fits(w, &k->policy, &cost, why, sizeof(why))) {
            continue;
        }
        int slot = -1;
        if (!w->leaseless && !lease_take(s, c, k->id, &slot)) {
            x->free = 0; /* another instance holds it */
            continue;
        }
        if (pool_keystore_open(s->enc_key, k->id, k->sealed, k->sealed_len, w->lease.token,
                               sizeof(w->lease.token)) != NP_ERR_OK) {
            np_log_error("pool", "key %lld does not decrypt (wrong ENCRYPTION_KEY or tampered)",
                         (long long)k->id);
            if (slot >= 0) {
                lease_drop(s, c, k->id, slot);
            }
            np_wipe(k->sealed, k->sealed_len);
            free(k->sealed);
            k->sealed = NULL;
            continue;
        }
        pthread_mutex_lock(&s->mu);
        bool held = slot < 0 || held_add(s, k->id, slot);
        pthread_mutex_unlock(&s->mu);
        if (!held) {
            lease_drop(s, c, k->id, slot); /* an untracked lease would lapse mid-generation */
            np_wipe(w->lease.token, sizeof(w->lease.token));
            continue;
        }
        w->lease.key_id = k->id;
        w->lease.slot = slot;
        w->lease.fail_streak = k->streak;
        w->lease.settled = k->settled;
        w->lease.cost = cost;
        x->free -= slot >= 0;
        int keep = order[oi];
        memmove(&order[oi], &order[oi + 1], (size_t)(n - oi - 1) * sizeof(int));
        order[n - 1] = keep;
        return true;
    }
    return false;
}

static void
grant_pass(pool_sched *s)
{
    PGconn *c = sched_conn(s);
    if (c == NULL) {
        return;
    }
    cands cd;
    if (load_cands(s, c, &cd) != NP_ERR_OK) {
        return;
    }
    cand *cs = cd.cs;
    int n = cd.n;
    int *order = calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    for (int i = 0; order != NULL && i < n; i++) {
        order[i] = i;
    }
    bool any = order != NULL && n > 0;
    while (any) {
        any = false;
        /* One round: each waiting user's first request, in turn order. Only this thread
         * removes waiters, so the items stay queued (and valid) outside the lock. */
        pthread_mutex_lock(&s->mu);
        int nu = fairq_users(&s->q);
        fairq_item **turns = calloc((size_t)(nu > 0 ? nu : 1), sizeof(*turns));
        bool *granted = calloc((size_t)(nu > 0 ? nu : 1), sizeof(*granted));
        int k = turns != NULL && granted != NULL ? fairq_round(&s->q, turns, nu) : 0;
        pthread_mutex_unlock(&s->mu);
        if (turns == NULL || granted == NULL) {
            free(turns);
            free(granted);
            break;
        }
        for (int i = 0; i < k; i++) {
            pool_waiter *w = waiter_of(turns[i]);
            bool was_counted = w->counted;
            if (!pool_waiter_take_running(w)) {
                continue; /* its user runs as many as allowed: it waits, the others go on */
            }
            granted[i] = grant_one(s, c, cs, order, n, w);
            if (!granted[i] && !was_counted) {
                pool_waiter_give_running(w);
            }
            any = any || granted[i];
        }
        /* the users served go to the back of the ring, in the order they were served */
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < k; i++) {
            if (granted[i]) {
                fairq_served(&s->q, turns[i]);
            }
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < k; i++) {
            if (granted[i]) {
                pool_waiter *w = waiter_of(turns[i]);
                w->on_grant(w->arg, w);
            }
        }
        free(turns);
        free(granted);
    }
    free(order);
    free_cands(&cd);
}

/* Waiters past their deadline, or aborted (all of them when draining), leave the queue. */
static void
expire_waiters(pool_sched *s, bool all)
{
    int64_t now = np_now_ms();
    pthread_mutex_lock(&s->mu);
    fairq_item *gone = fairq_expire(&s->q, now, all);
    pthread_mutex_unlock(&s->mu);
    while (gone != NULL) {
        fairq_item *it = gone;
        gone = it->next;
        it->next = NULL;
        pool_waiter *w = waiter_of(it);
        w->on_timeout(w->arg, w);
    }
}

/* Extends the leases of the requests still running (held), in one statement. */
static void
renew_leases(pool_sched *s)
{
    PGconn *c = sched_conn(s);
    pthread_mutex_lock(&s->mu);
    int n = s->nheld;
    size_t cap = 3 + (size_t)n * 22;
    char *keys = n > 0 ? malloc(cap) : NULL, *slots = n > 0 ? malloc(cap) : NULL;
    size_t kl = 0, sl = 0;
    if (keys != NULL && slots != NULL) {
        keys[kl++] = slots[sl++] = '{';
        for (int i = 0; i < n; i++) {
            kl += (size_t)snprintf(keys + kl, cap - kl, "%s%lld", i ? "," : "",
                                   (long long)s->held[i].key_id);
            sl += (size_t)snprintf(slots + sl, cap - sl, "%s%d", i ? "," : "", s->held[i].slot);
        }
        snprintf(keys + kl, cap - kl, "}");
        snprintf(slots + sl, cap - sl, "}");
    }
    pthread_mutex_unlock(&s->mu);
    if (c != NULL && keys != NULL && slots != NULL) {
        char ttl_s[16];
        snprintf(ttl_s, sizeof(ttl_s), "%lld",
                 (long long)NP_SETTING_NOW(s->cfg, pool, LEASE_TTL_SECONDS));
        const char *params[] = {s->holder, ttl_s, keys, slots};
        pool_db_exec_prepared(
            c, "pool_lease_renew",
            "UPDATE key_leases SET expires_at = now() + $2::integer * interval '1 second' "
            "WHERE holder = $1 AND (key_id, slot) IN (SELECT * FROM unnest($3::bigint[], "
            "$4::integer[]))",
            4, params, NULL);
    }
    free(keys);
    free(slots);
}

/* Applies the releases in as few round trips as it can: in pipeline mode every release
 * statement goes out (each its own transaction, in order, so two releases of one key apply as
 * they came) before any answer is read. Batches of RELEASE_BATCH keep both sides' socket
 * buffers from filling while neither reads. A connection that fails drops the rest (their
 * leases lapse) and is made again on the next turn. */
#define RELEASE_BATCH 64

static void
apply_releases(pool_sched *s, const np_list *list)
{
    PGconn *c = s->conn;
    bool ok = true;
    np_list_node *next = np_list_first(list); /* the first release not answered yet */
    while (ok && next != NULL) {
        ok = PQenterPipelineMode(c) == 1;
        int sent = 0;
        for (np_list_node *n = next; ok && n != NULL && sent < RELEASE_BATCH;
             n = np_list_next(list, n)) {
            ok = release_send(s, c, NP_LIST_ENTRY(n, rel, node));
            sent += ok;
        }
        for (int i = 0; i < sent; i++, next = np_list_next(list, next)) {
            PGresult *res = PQgetResult(c); /* the statement's answer */
            release_done(s, NP_LIST_ENTRY(next, rel, node), res);
            PQclear(res);
            res = PQgetResult(c); /* NULL: the end of that answer */
            ok = ok && res == NULL;
            PQclear(res);
            res = PQgetResult(c); /* the sync point */
            ok = ok && res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
            PQclear(res);
        }
        ok = PQexitPipelineMode(c) == 1 && ok;
    }
    if (!ok) {
        np_log_warn("pool", "the scheduler's connection failed while releasing; leases lapse");
        PQfinish(s->conn);
        s->conn = NULL;
    }
}

static void
run_releases(pool_sched *s, np_list *list)
{
    if (!np_list_empty(list) && sched_conn(s) != NULL) {
        apply_releases(s, list);
    }
    rel *r;
    while ((r = NP_LIST_ENTRY(np_list_pop_front(list), rel, node)) != NULL) {
        if (r->retry != NULL) {
            requeue_front(s, r->retry);
        }
        free(r);
    }
}

static void *
thread_main(void *arg)
{
    pool_sched *s = arg;
    int64_t last_renew = np_now_ms(), last_tick = np_now_ms();
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (!s->wake && np_list_empty(&s->rels) && !s->stopping) {
            int64_t wait_ms = fairq_depth(&s->q) > 0 ? 200 : 1000;
            np_cond_wait_until(&s->cv, &s->mu, np_deadline_ms(wait_ms));
        }
        s->wake = false;
        np_list list;
        np_list_init(&list);
        np_list_take(&list, &s->rels);
        bool stop = s->stopping, draining = s->draining;
        pool_tick_fn tick = s->tick;
        void *tick_arg = s->tick_arg;
        pthread_mutex_unlock(&s->mu);

        run_releases(s, &list);
        if (stop) {
            break;
        }
        if (draining) {
            expire_waiters(s, true);
        } else if (pool_sched_depth(s) > 0) { /* retries included: they pass at once */
            grant_pass(s);
        }
        expire_waiters(s, false);
        int64_t now = np_now_ms();
        if (now - last_renew >= NP_SETTING_NOW(s->cfg, pool, LEASE_TTL_SECONDS) * 1000 / 3) {
            renew_leases(s);
            last_renew = now;
        }
        if (now - last_tick >= 1000) {
            PGconn *c = sched_conn(s);
            if (c != NULL && pool_keyring_flush(s->kr, c) != NP_ERR_OK) {
                np_log_warn("pool", "writing the uses of leaseless requests failed");
            }
            if (tick != NULL) {
                tick(tick_arg);
            }
            last_tick = now;
        }
        pthread_mutex_lock(&s->mu);
    }
    return NULL;
}

/* LISTEN pool_keys on a connection of its own: a release on another instance wakes this
 * scheduler at once instead of at its next periodic pass. */
static void *
listener_main(void *arg)
{
    pool_sched *s = arg;
    PGconn *c = NULL;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            break;
        }
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
            const char *vals[] = {s->db_url, "naipool-pool-listen", "5", NULL};
            c = PQconnectdbParams(keys, vals, 1);
            PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, "LISTEN pool_keys") : NULL;
            if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
                PQclear(r);
                PQfinish(c);
                c = NULL;
                /* Wait a second before the next try; pool_sched_close ends the wait at once. */
                int64_t retry_at = np_deadline_ms(1000);
                pthread_mutex_lock(&s->mu);
                while (!s->stopping && np_cond_wait_until(&s->listen_cv, &s->mu, retry_at) == 0) {
                }
                pthread_mutex_unlock(&s->mu);
                continue;
            }
            PQclear(r);
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&pfd, 1, 500) > 0) {
            PQconsumeInput(c);
            bool heard = false;
            PGnotify *nt;
            while ((nt = PQnotifies(c)) != NULL) {
                if (strcmp(nt->extra, "k") == 0) {
                    pool_keyring_invalidate(s->kr); /* a key changed somewhere */
                }
                /* this instance's own releases: its scheduler passes right after them */
                heard = heard || nt->be_pid != atomic_load(&s->conn_pid);
                PQfreemem(nt);
            }
            if (heard) {
                pthread_mutex_lock(&s->mu);
                s->wake = true;
                pthread_cond_signal(&s->cv);
                pthread_mutex_unlock(&s->mu);
            }
        }
    }
    PQfinish(c);
    return NULL;
}

np_err
pool_sched_open(pool_sched **out, np_db *db, const char *db_url, const np_config *cfg,
                np_events *events, const uint8_t enc_key[32], const char *holder,
                pool_keyring *keyring)
{
    pool_sched *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    s->db = db;
    s->cfg = cfg;
    s->ev = events;
    s->kr = keyring;
    memcpy(s->enc_key, enc_key, NP_KEY_LEN);
    snprintf(s->holder, sizeof(s->holder), "%s", holder);
    s->db_url = db_url != NULL && db_url[0] ? np_db_url_normalize(db_url) : NULL;
    atomic_init(&s->conn_pid, 0);
    fairq_init(&s->q);
    np_list_init(&s->rels);
    pthread_mutex_init(&s->mu, NULL);
    np_cond_init(&s->cv);
    np_cond_init(&s->listen_cv);
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->listen_cv);
        free(s->db_url);
        free(s);
        return NP_ERR_SYSTEM;
    }
    s->listener_started =
        s->db_url != NULL && pthread_create(&s->listener, NULL, listener_main, s) == 0;
    *out = s;
    return NP_ERR_OK;
}

void
pool_sched_drain(pool_sched *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->draining = true;
    s->wake = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* The thread times the waiters out on its next turn; wait for the queue to empty. */
    for (int i = 0; i < 500 && pool_sched_depth(s) > 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

void
pool_sched_close(pool_sched *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->draining = true;
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->listen_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (s->listener_started) {
        pthread_join(s->listener, NULL);
    }
    expire_waiters(s, true);
    run_releases(s, &s->rels); /* late ones, after the thread's last turn */
    /* Leases this instance still holds end now rather than at their expiry. */
    PGconn *c = sched_conn(s);
    if (c != NULL) {
        const char *params[] = {s->holder};
        np_db_exec(c, "DELETE FROM key_leases WHERE holder = $1", 1, params, NULL);
        pool_keyring_flush(s->kr, c);
    }
    PQfinish(s->conn);
    np_wipe(s->enc_key, sizeof(s->enc_key));
    free(s->held);
    fairq_fini(&s->q);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->listen_cv);
    if (s->db_url != NULL) {
        np_wipe(s->db_url, strlen(s->db_url));
    }
    free(s->db_url);
    free(s);
}
