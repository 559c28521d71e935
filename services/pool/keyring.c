/* The keyring: a copy of the usable keys, reloaded at most once per POOL_KEYRING_TTL_MS (or
 * after an invalidation), the Anlas guard and leaseless picks on it, and counted uses written
 * in batches. See keyring.h.
 *
 * Two locks: refresh_mu lets one rpc worker reload at a time (when the copy is only old, the
 * others go on with it meanwhile; when it was invalidated, they wait for the new one rather
 * than ask Postgres too), and mu guards the copy and the counts for moments only, so the
 * curl thread (pool_keyring_count_use) never waits on a query. */
#include "keyring.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore.h"
#include "np/clock.h"
#include "np/db.h"
#include "np/log.h"
#include "np/testing.h"
#include "prepared.h"

typedef struct {
    int64_t id;
    int n;
} use_count;

struct pool_keyring {
    uint8_t enc_key[NP_KEY_LEN];
    pthread_mutex_t refresh_mu; /* one reload at a time */
    pthread_mutex_t mu;         /* everything below */
    pool_ring_key *keys;        /* in guard order: the most permissive key first */
    int n;
    bool loaded;
    unsigned version, loaded_version;
    int64_t loaded_ms; /* monotonic: when the query of the copy started */
    uint64_t seq;      /* the last pick order given */
    use_count *uses;
    int nuses, uses_cap;
};

void
pool_ring_keys_free(pool_ring_key *keys, int n)
{
    for (int i = 0; i < n; i++) {
        if (keys[i].sealed != NULL) {
            np_wipe(keys[i].sealed, keys[i].sealed_len);
        }
        free(keys[i].sealed);
    }
    free(keys);
}

pool_keyring *
pool_keyring_new(const uint8_t enc_key[NP_KEY_LEN])
{
    pool_keyring *kr = calloc(1, sizeof(*kr));
    if (kr == NULL) {
        return NULL;
    }
    memcpy(kr->enc_key, enc_key, NP_KEY_LEN);
    pthread_mutex_init(&kr->refresh_mu, NULL);
    pthread_mutex_init(&kr->mu, NULL);
    return kr;
}

void
pool_keyring_free(pool_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    pool_ring_keys_free(kr->keys, kr->n);
    free(kr->uses);
    np_wipe(kr->enc_key, sizeof(kr->enc_key));
    pthread_mutex_destroy(&kr->refresh_mu);
    pthread_mutex_destroy(&kr->mu);
    free(kr);
}

void
pool_keyring_invalidate(pool_keyring *kr)
{
    pthread_mutex_lock(&kr->mu);
    kr->version++;
    /* dropped now rather than at the next reload: a withdrawn key's token goes at once */
    pool_ring_key *old = kr->keys;
    int nold = kr->n;
    kr->keys = NULL;
    kr->n = 0;
    kr->loaded = false;
    pthread_mutex_unlock(&kr->mu);
    pool_ring_keys_free(old, nold);
}

unsigned
pool_keyring_version(pool_keyring *kr)
{
    pthread_mutex_lock(&kr->mu);
    unsigned v = kr->version;
    pthread_mutex_unlock(&kr->mu);
    return v;
}

/* Installs keys as the copy loaded at version v and time t; a copy overtaken by an
 * invalidation while it loaded is dropped instead (it may hold a withdrawn key). */
static void
install(pool_keyring *kr, pool_ring_key *keys, int n, unsigned v, int64_t t)
{
    pthread_mutex_lock(&kr->mu);
    pool_ring_key *old = keys;
    int nold = n;
    if (kr->version == v) {
        old = kr->keys;
        nold = kr->n;
        kr->keys = keys;
        kr->n = n;
        kr->loaded = true;
        kr->loaded_version = v;
        kr->loaded_ms = t;
        /* the copy's pick orders are 1..n (least recently used first); picks continue after */
        kr->seq = (uint64_t)n;
    }
    pthread_mutex_unlock(&kr->mu);
    pool_ring_keys_free(old, nold);
}

void
pool_keyring_set(pool_keyring *kr, pool_ring_key *keys, int n)
{
    install(kr, keys, n, pool_keyring_version(kr), np_now_ms());
}

/* Whether the copy was loaded at or after not_before and nothing changed since (under mu). */
static bool
fresh_since(const pool_keyring *kr, int64_t not_before)
{
    return kr->loaded && kr->loaded_version == kr->version && kr->loaded_ms >= not_before;
}

/* Guard order (the most permissive key first, as the guard names its reason), each key's
 * rank by last use for the pick order, and its unexpired leases for the scheduler. */
#define USABLE_KEYS_SQL                                                                            \
    "SELECT k.id, coalesce(k.tier, 0), coalesce(k.sub_active, false), coalesce(k.anlas, 0), "      \
    "coalesce(k.v5_negative, false), k.allow_paid, coalesce(k.max_anlas_per_request, -1), "        \
    "k.anlas_floor, k.fail_streak, k.state = 'active', coalesce(ceil(extract(epoch FROM "          \
    "(k.cooldown_until - now())) * 1000), 0)::bigint, row_number() OVER (ORDER BY "                \
    "k.last_used_at NULLS FIRST, k.id), k.ciphertext, coalesce(k.v5_percent, 0), "                 \
    "(SELECT count(*) FROM key_leases l WHERE l.key_id = k.id AND l.expires_at > now()) "          \
    "FROM upstream_keys k "                                                                        \
    "WHERE k.enabled AND k.ciphertext IS NOT NULL AND k.state IN ('active', 'cooling') "           \
    "ORDER BY k.allow_paid DESC, k.tier DESC NULLS LAST, k.anlas DESC NULLS LAST, k.id"

/* The rows of USABLE_KEYS_SQL as keys; a row whose token cannot be copied, or with a cell that
 * does not read as its type (logged by the row reader), is left out: no key is used on a
 * policy guessed from a bad row. */
NP_STATIC np_err
usable_keys_parse(const PGresult *res, int64_t now, pool_ring_key **out, int *nout)
{
    int rows = PQntuples(res);
    pool_ring_key *keys = calloc((size_t)(rows > 0 ? rows : 1), sizeof(*keys));
    if (keys == NULL) {
        return NP_ERR_NOMEM;
    }
    int n = 0;
    for (int i = 0; i < rows; i++) {
        np_db_row row = np_db_row_at(res, i);
        int streak = (int)np_db_int(&row, 8);
        int64_t cool = np_db_int(&row, 10);
        pool_ring_key k = {
            .id = np_db_int(&row, 0),
            .policy =
                {
                    .tier = (int)np_db_int(&row, 1),
                    .active = np_db_bool(&row, 2),
                    .anlas = np_db_int(&row, 3),
                    .v5_negative = np_db_bool(&row, 4),
                    .v5_percent = np_db_num(&row, 13),
                    .allow_paid = np_db_bool(&row, 5),
                    .max_per_request = np_db_int(&row, 6),
                    .floor = np_db_int(&row, 7),
                },
            .streak = streak,
            .settled = np_db_bool(&row, 9) && streak == 0,
            .cool_until_ms = cool > 0 ? now + cool : 0,
            .picked = (uint64_t)np_db_int(&row, 11),
            .leased = (int)np_db_int(&row, 14),
        };
        const char *ciphertext = np_db_str(&row, 12);
        if (row.err != NP_ERR_OK) {
            continue;
        }
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)ciphertext, &len);
        unsigned char *sealed = raw != NULL ? malloc(len > 0 ? len : 1) : NULL;
        if (sealed == NULL) {
            PQfreemem(raw);
            continue;
        }
        memcpy(sealed, raw, len);
        np_wipe(raw, len);
        PQfreemem(raw);
        k.sealed = sealed;
        k.sealed_len = len;
        keys[n++] = k;
    }
    *out = keys;
    *nout = n;
    return NP_ERR_OK;
}

np_err
pool_usable_keys_read(PGconn *c, pool_ring_key **out, int *n)
{
    PGresult *res = NULL;
    np_err err = pool_db_exec_prepared(c, "pool_usable_keys", USABLE_KEYS_SQL, 0, NULL, &res);
    if (err == NP_ERR_OK) {
        err = usable_keys_parse(res, np_now_ms(), out, n);
    }
    PQclear(res);
    return err;
}

np_err
pool_keyring_refresh(pool_keyring *kr, PGconn *c, bool force)
{
    /* forced: a copy loaded after the caller looked will do (another worker's reload) */
    int64_t asked = np_now_ms(), not_before = force ? asked : asked - POOL_KEYRING_TTL_MS;
    pthread_mutex_lock(&kr->mu);
    bool current = kr->loaded && kr->loaded_version == kr->version;
    bool ok = fresh_since(kr, not_before);
    pthread_mutex_unlock(&kr->mu);
    if (ok) {
        return NP_ERR_OK;
    }
    if (current && !force) {
        /* only old: one worker reloads, the others go on with the copy meanwhile */
        if (pthread_mutex_trylock(&kr->refresh_mu) != 0) {
            return NP_ERR_OK;
        }
    } else {
        pthread_mutex_lock(&kr->refresh_mu);
    }
    pthread_mutex_lock(&kr->mu);
    ok = fresh_since(kr, not_before); /* reloaded while this one waited? */
    unsigned v = kr->version;
    pthread_mutex_unlock(&kr->mu);
    if (ok) {
        pthread_mutex_unlock(&kr->refresh_mu);
        return NP_ERR_OK;
    }
    int64_t t = np_now_ms();
    pool_ring_key *keys = NULL;
    int n = 0;
    np_err err = pool_usable_keys_read(c, &keys, &n);
    if (err == NP_ERR_OK) {
        install(kr, keys, n, v, t);
    }
    pthread_mutex_unlock(&kr->refresh_mu);
    return err;
}

np_err
pool_keyring_guard(pool_keyring *kr, const pool_waiter *w, char *why, size_t whylen)
{
    pthread_mutex_lock(&kr->mu);
    np_err err = kr->n == 0 ? NP_ERR_NO_KEY : NP_ERR_ANLAS;
    if (kr->n == 0) {
        snprintf(why, whylen, "the pool has no usable key right now");
    }
    for (int i = 0; i < kr->n && err != NP_ERR_OK; i++) {
        int64_t cost;
        char reason[160];
        if (pool_sched_fits(w, &kr->keys[i].policy, &cost, reason, sizeof(reason))) {
            err = NP_ERR_OK;
        } else if (i == 0) {
            /* the most permissive key's reason: the most telling one */
            snprintf(why, whylen, "no key may serve this request: %s", reason);
            if (w->need->kind == POOL_KIND_TEXT || w->need->kind == POOL_KIND_FREE) {
                err = NP_ERR_NO_KEY;
            }
        }
    }
    pthread_mutex_unlock(&kr->mu);
    return err;
}

bool
pool_keyring_pick(pool_keyring *kr, pool_waiter *w)
{
    int64_t now = np_now_ms();
    bool got = false;
    pthread_mutex_lock(&kr->mu);
    while (!got) {
        pool_ring_key *best = NULL;
        int64_t best_cost = 0;
        for (int i = 0; i < kr->n; i++) {
            pool_ring_key *k = &kr->keys[i];
            int64_t cost;
            char why[160];
            if (k->sealed == NULL || k->cool_until_ms > now || pool_waiter_tried(w, k->id) ||
                (best != NULL && k->picked >= best->picked) ||
                !pool_sched_fits(w, &k->policy, &cost, why, sizeof(why))) {
                continue;
            }
            best = k;
            best_cost = cost;
        }
        if (best == NULL) {
            break;
        }
        best->picked = ++kr->seq;
        if (pool_keystore_open(kr->enc_key, best->id, best->sealed, best->sealed_len,
                               w->lease.token, sizeof(w->lease.token)) != NP_ERR_OK) {
            np_log_error("pool", "key %lld does not decrypt (wrong ENCRYPTION_KEY or tampered)",
                         (long long)best->id);
            np_wipe(best->sealed, best->sealed_len);
            free(best->sealed);
            best->sealed = NULL; /* not offered again until the next reload */
            continue;
        }
        w->lease.key_id = best->id;
        w->lease.slot = -1;
        w->lease.fail_streak = best->streak;
        w->lease.cost = best_cost;
        w->lease.settled = best->settled;
        got = true;
    }
    pthread_mutex_unlock(&kr->mu);
    return got;
}

void
pool_keyring_count_use(pool_keyring *kr, int64_t id)
{
    pthread_mutex_lock(&kr->mu);
    int i = 0;
    while (i < kr->nuses && kr->uses[i].id != id) {
        i++;
    }
    if (i == kr->nuses && kr->nuses == kr->uses_cap) {
        int cap = kr->uses_cap > 0 ? kr->uses_cap * 2 : 64;
        use_count *u = realloc(kr->uses, (size_t)cap * sizeof(*u));
        if (u == NULL) {
            pthread_mutex_unlock(&kr->mu);
            return; /* a lost count: only a figure */
        }
        kr->uses = u;
        kr->uses_cap = cap;
    }
    if (i == kr->nuses) {
        kr->uses[kr->nuses++] = (use_count){id, 0};
    }
    kr->uses[i].n++;
    pthread_mutex_unlock(&kr->mu);
}

/* Appends "{a,b,...}" of n numbers to a malloc'd string; NULL on no memory. */
static char *
pg_array(const use_count *u, int n, bool counts)
{
    size_t cap = 3 + (size_t)n * 21, len = 0;
    char *s = malloc(cap);
    if (s == NULL) {
        return NULL;
    }
    s[len++] = '{';
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(s + len, cap - len, "%s%lld", i > 0 ? "," : "",
                                counts ? (long long)u[i].n : (long long)u[i].id);
    }
    snprintf(s + len, cap - len, "}");
    return s;
}

np_err
pool_keyring_flush(pool_keyring *kr, PGconn *c)
{
    pthread_mutex_lock(&kr->mu);
    use_count *uses = kr->uses;
    int n = kr->nuses;
    kr->uses = NULL;
    kr->nuses = kr->uses_cap = 0;
    pthread_mutex_unlock(&kr->mu);
    if (n == 0) {
        free(uses);
        return NP_ERR_OK;
    }
    char *ids = pg_array(uses, n, false), *counts = pg_array(uses, n, true);
    np_err err = NP_ERR_NOMEM;
    if (ids != NULL && counts != NULL) {
        const char *params[] = {ids, counts};
        err = pool_db_exec_prepared(
            c, "pool_keyring_uses",
            "UPDATE upstream_keys k SET last_used_at = now(), uses_today = CASE "
            "WHEN k.uses_day = current_date THEN k.uses_today + u.n ELSE u.n END, "
            "uses_day = current_date FROM unnest($1::bigint[], $2::integer[]) "
            "AS u (id, n) WHERE k.id = u.id",
            2, params, NULL);
    }
    free(ids);
    free(counts);
    free(uses);
    return err;
}
