/* Batched last-use stamps for relay keys, and throttle pruning. */
#include "flusher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "np/clock.h"
#include "np/log.h"
#include "throttle.h"

/* Prune throttle windows every this many flushes (about every ten minutes at 5 s). */
#define PRUNE_EVERY 120

struct auth_flusher {
    np_db *db;
    pthread_mutex_t mu; /* ids, n, dropped_logged */
    int64_t *ids;       /* noted since the last flush */
    size_t n;
    bool dropped_logged;
    int64_t *batch; /* the ticker's copy, flushed without the lock */
    unsigned rounds;
    np_ticker *ticker;
};

static int
cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t
auth_ids_unique(int64_t *ids, size_t n)
{
    if (n == 0) {
        return 0;
    }
    qsort(ids, n, sizeof(ids[0]), cmp_id);
    size_t out = 1;
    for (size_t i = 1; i < n; i++) {
        if (ids[i] != ids[out - 1]) {
            ids[out++] = ids[i];
        }
    }
    return out;
}

np_err
auth_ids_array(const int64_t *ids, size_t n, np_buf *out)
{
    np_err err = np_buf_puts(out, "{");
    for (size_t i = 0; err == NP_ERR_OK && i < n; i++) {
        err = np_buf_printf(out, i ? ",%lld" : "%lld", (long long)ids[i]);
    }
    return err == NP_ERR_OK ? np_buf_puts(out, "}") : err;
}

static void
flush(auth_flusher *f, int64_t *ids, size_t n)
{
    n = auth_ids_unique(ids, n);
    if (n == 0) {
        return;
    }
    np_buf arr;
    np_buf_init(&arr, 0);
    PGconn *c = auth_ids_array(ids, n, &arr) == NP_ERR_OK ? np_db_acquire(f->db, 5000) : NULL;
    if (c == NULL) {
        np_log_warn("auth", "could not record the last use of %zu relay keys", n);
    } else {
        const char *params[] = {arr.data};
        np_db_exec(c, "UPDATE relay_keys SET last_used_at = now() WHERE id = ANY($1::bigint[])", 1,
                   params, NULL);
        np_db_release(f->db, c);
    }
    np_buf_fini(&arr);
}

static void
prune(auth_flusher *f)
{
    PGconn *c = np_db_acquire(f->db, 5000);
    if (c != NULL) {
        auth_throttle_prune(c);
        np_db_release(f->db, c);
    }
}

/* flush_noted takes the noted ids and lets authentications go on while the UPDATE runs. */
static void
flush_noted(auth_flusher *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    memcpy(f->batch, f->ids, n * sizeof(int64_t));
    f->n = 0;
    f->dropped_logged = false;
    pthread_mutex_unlock(&f->mu);
    flush(f, f->batch, n);
}

static int64_t
flusher_tick(void *arg)
{
    auth_flusher *f = arg;
    flush_noted(f);
    if (++f->rounds % PRUNE_EVERY == 0) {
        prune(f);
    }
    return 0;
}

auth_flusher *
auth_flusher_new(np_db *db, int interval_ms)
{
    auth_flusher *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->ids = malloc(sizeof(int64_t) * AUTH_FLUSHER_MAX_IDS);
    f->batch = malloc(sizeof(int64_t) * AUTH_FLUSHER_MAX_IDS);
    if (f->ids == NULL || f->batch == NULL) {
        free(f->ids);
        free(f->batch);
        free(f);
        return NULL;
    }
    f->db = db;
    pthread_mutex_init(&f->mu, NULL);
    if (np_ticker_start(&f->ticker, flusher_tick, f, interval_ms) != NP_ERR_OK) {
        pthread_mutex_destroy(&f->mu);
        free(f->ids);
        free(f->batch);
        free(f);
        return NULL;
    }
    return f;
}

void
auth_flusher_note(auth_flusher *f, int64_t kid)
{
    pthread_mutex_lock(&f->mu);
    /* The same key used again before a flush is the common case: skip an immediate repeat. */
    if (f->n > 0 && f->ids[f->n - 1] == kid) {
        pthread_mutex_unlock(&f->mu);
        return;
    }
    if (f->n < AUTH_FLUSHER_MAX_IDS) {
        f->ids[f->n++] = kid;
    } else if (!f->dropped_logged) {
        f->dropped_logged = true;
        np_log_warn("auth", "too many relay keys used between two flushes; some last-use "
                            "times are skipped");
    }
    pthread_mutex_unlock(&f->mu);
}

void
auth_flusher_free(auth_flusher *f)
{
    if (f == NULL) {
        return;
    }
    np_ticker_stop(f->ticker);
    flush_noted(f); /* the last one, without pruning */
    pthread_mutex_destroy(&f->mu);
    free(f->ids);
    free(f->batch);
    free(f);
}
