/* The leader's scheduler and its prober threads. */
#include "jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/settings.h"
#include "np/clock.h"
#include "np/log.h"
#include "proxycheck.h"
#include "settings.h"

#define QUEUE_MAX 256
#define THREADS_MAX 64

typedef enum { JOB_KEY, JOB_PROXY } job_kind;

typedef struct {
    job_kind kind;
    int64_t id;
} job;

struct health_jobs {
    const health_probe_env *env;
    health_leader *leader;
    np_rpc_client *audit;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* work queued, or stop */
    bool stop;
    job queue[QUEUE_MAX];
    int qlen;
    job running[THREADS_MAX]; /* id 0: idle */
    int nthreads;
    pthread_t threads[THREADS_MAX];
    np_ticker *scheduler;
    double carry; /* fractional periodic probes owed, for even spreading */
    time_t next_housekeeping;
};

/* known: the job is queued or running here (the probe lease guards other instances). */
static bool
known(const health_jobs *j, job_kind kind, int64_t id)
{
    for (int i = 0; i < j->qlen; i++) {
        if (j->queue[i].kind == kind && j->queue[i].id == id) {
            return true;
        }
    }
    for (int i = 0; i < j->nthreads; i++) {
        if (j->running[i].kind == kind && j->running[i].id == id) {
            return true;
        }
    }
    return false;
}

static int
enqueue(health_jobs *j, job_kind kind, const int64_t *ids, int n)
{
    int added = 0;
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < n && j->qlen < QUEUE_MAX; i++) {
        if (!known(j, kind, ids[i])) {
            j->queue[j->qlen++] = (job){kind, ids[i]};
            added++;
        }
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return added;
}

typedef struct {
    health_jobs *j;
    int slot;
} worker_arg;

static void *
worker_main(void *arg)
{
    worker_arg *wa = arg;
    health_jobs *j = wa->j;
    int slot = wa->slot;
    free(wa);
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && j->qlen == 0) {
            pthread_cond_wait(&j->cv, &j->mu);
        }
        if (j->stop) {
            break;
        }
        job jb = j->queue[0];
        memmove(&j->queue[0], &j->queue[1], (size_t)(j->qlen - 1) * sizeof(job));
        j->qlen--;
        j->running[slot] = jb;
        pthread_mutex_unlock(&j->mu);
        /* Only the leader probes; a job queued before a step-down is dropped. */
        if (health_leader_is(j->leader)) {
            np_err err = jb.kind == JOB_KEY ? health_keyprobe_run(j->env, jb.id, false, NULL)
                                            : health_proxy_probe(j->env, jb.id);
            if (err != NP_ERR_OK && err != NP_ERR_CONFLICT && err != NP_ERR_NOT_FOUND) {
                np_log_debug("health", "%s %lld: probe not done: %s",
                             jb.kind == JOB_KEY ? "key" : "proxy", (long long)jb.id,
                             np_err_message(err));
            }
        }
        pthread_mutex_lock(&j->mu);
        j->running[slot] = (job){JOB_KEY, 0};
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static int
select_ids(const health_jobs *j, const char *sql, int nparams, const char *const *params,
           int64_t *ids, int max)
{
    PGconn *c = np_db_acquire(j->env->db, 5000);
    if (c == NULL) {
        return 0;
    }
    PGresult *r = NULL;
    int n = 0;
    if (np_db_exec(c, sql, nparams, params, &r) == NP_ERR_OK) {
        for (int i = 0; i < PQntuples(r) && n < max; i++) {
            np_db_row row = np_db_row_at(r, i);
            int64_t id = np_db_int(&row, 0);
            if (row.err != NP_ERR_OK) {
                break; /* logged; the ids read so far are good */
            }
            ids[n++] = id;
        }
    }
    PQclear(r);
    np_db_release(j->env->db, c);
    return n;
}

static int64_t
count_active(const health_jobs *j)
{
    int64_t one[1] = {0};
    select_ids(j, "SELECT count(*) FROM upstream_keys WHERE enabled AND state = 'active'", 0, NULL,
               one, 1);
    return one[0];
}

/* key_round queues the keys due now: pending ones, half-open re-probes (cooling past its
 * cooldown; exhausted, invalid and expired with backoff), and the periodic probes of active
 * keys, of which about (active keys / interval) per second, so they spread evenly. */
static void
key_round(health_jobs *j)
{
    np_settings *snap = np_config_acquire(j->env->cfg);
    const health_settings *hs = NP_SETTINGS_OF(snap, health);
    char base[24], max[24], every[24], lim[24];
    snprintf(base, sizeof(base), "%lld", (long long)hs->HEALTH_RECHECK_BASE_SECONDS);
    snprintf(max, sizeof(max), "%lld", (long long)hs->HEALTH_RECHECK_MAX_SECONDS);
    int64_t interval = hs->HEALTH_CHECK_INTERVAL_SECONDS;
    bool periodic = hs->HEALTH_CHECK_ENABLED;
    np_settings_release(snap);
    snprintf(every, sizeof(every), "%lld", (long long)interval);
    int64_t ids[64];
    const char *p1[] = {base, max};
    int n = select_ids(
        j,
        "SELECT id FROM upstream_keys k WHERE enabled AND state <> 'disabled' AND ("
        "(state = 'cooling' AND (cooldown_until IS NULL OR cooldown_until <= now())) OR "
        "(state IN ('pending', 'exhausted', 'invalid', 'expired') AND (last_checked_at IS NULL "
        " OR last_checked_at <= now() - make_interval(secs => LEAST($2::bigint, $1::bigint * "
        " power(2, LEAST(GREATEST(fail_streak - 1, 0), 30))))))) "
        "AND NOT EXISTS (SELECT 1 FROM key_probes p WHERE p.key_id = k.id AND "
        "p.expires_at > now()) ORDER BY last_checked_at NULLS FIRST, id LIMIT 64",
        2, p1, ids, 64);
    enqueue(j, JOB_KEY, ids, n);
    if (!periodic) {
        return; /* no periodic probes of active keys; new and failed keys are still checked */
    }

    int64_t total = count_active(j);
    j->carry += (double)total / (double)(interval > 0 ? interval : 1);
    int want = (int)j->carry;
    if (want > 64) {
        want = 64;
    }
    if (want <= 0) {
        return;
    }
    snprintf(lim, sizeof(lim), "%d", want);
    const char *p2[] = {every, lim};
    n = select_ids(j,
                   "SELECT id FROM upstream_keys k WHERE enabled AND state = 'active' AND "
                   "(last_checked_at IS NULL OR last_checked_at <= now() - "
                   "make_interval(secs => $1::int)) AND NOT EXISTS (SELECT 1 FROM key_probes p "
                   "WHERE p.key_id = k.id AND p.expires_at > now()) "
                   "ORDER BY last_checked_at NULLS FIRST, id LIMIT $2::int",
                   2, p2, ids, 64);
    int added = enqueue(j, JOB_KEY, ids, n);
    /* Owed probes that found nothing due are forgiven, so no burst builds up. */
    j->carry = added < want ? 0.0 : j->carry - (double)added;
}

static void
proxy_round(health_jobs *j)
{
    int64_t ids[32];
    int n = 0;
    if (!NP_SETTING_NOW(j->env->cfg, health, PROXY_CHECK_ENABLED)) {
        return;
    }
    if (health_proxy_due(j->env, ids, 32, &n) == NP_ERR_OK && n > 0) {
        enqueue(j, JOB_PROXY, ids, n);
    }
}

/* retention asks audit to delete old logs, batch after batch, as long as this instance
 * leads and each batch came back full. */
static void
retention(health_jobs *j)
{
    np_settings *snap = np_config_acquire(j->env->cfg);
    int64_t days = NP_SETTINGS_OF(snap, audit)->LOG_RETENTION_DAYS;
    int64_t batch = NP_SETTINGS_OF(snap, health)->HEALTH_RETENTION_BATCH;
    int64_t audit_days = NP_SETTINGS_OF(snap, audit)->AUDIT_RETENTION_DAYS;
    np_settings_release(snap);
    if (days <= 0 || j->audit == NULL) {
        return;
    }
    for (int round = 0; round < 100 && health_leader_check(j->leader); round++) {
        np_wire_writer w;
        np_wire_writer_init(&w);
        np_wire_begin(&w, 4);
        np_wire_str(&w, "op", "retention.run");
        np_wire_int(&w, "days", days);
        np_wire_int(&w, "batch", batch);
        np_wire_int(&w, "audit_days", audit_days);
        nng_msg *reply = NULL;
        np_err err = np_rpc_client_call(j->audit, &w, 30000, &reply);
        np_wire_writer_fini(&w);
        int64_t usage = 0, audit = 0;
        if (err == NP_ERR_OK) {
            np_wire_msg m;
            char msg[200] = "";
            err = np_wire_parse(&m, nng_msg_body(reply), nng_msg_len(reply));
            if (err == NP_ERR_OK) {
                err = np_wire_reply_error(m.root, msg, sizeof(msg));
            }
            if (err == NP_ERR_OK && (!np_wire_get_int(m.root, "usage", &usage) ||
                                     !np_wire_get_int(m.root, "audit", &audit))) {
                err = NP_ERR_WIRE;
            }
            np_wire_msg_fini(&m);
            nng_msg_free(reply);
        }
        if (err != NP_ERR_OK) {
            np_log_warn("health", "log retention: audit did not run it: %s", np_err_message(err));
            return;
        }
        if (usage + audit > 0) {
            np_log_info("health", "log retention: deleted %lld usage and %lld audit rows",
                        (long long)usage, (long long)audit);
        }
        if (usage < batch && audit < batch) {
            return;
        }
    }
}

static void
housekeeping(health_jobs *j)
{
    retention(j);
    PGconn *c = np_db_acquire(j->env->db, 5000);
    if (c != NULL) {
        np_db_exec(c, "DELETE FROM nodes WHERE last_seen < now() - interval '1 day'", 0, NULL,
                   NULL);
        np_db_exec(c, "DELETE FROM key_probes WHERE expires_at < now() - interval '1 hour'", 0,
                   NULL, NULL);
        np_db_release(j->env->db, c);
    }
}

/* State flow of the scheduler, once a second (an np_ticker, kicked once at start):
 *   1. health_leader_check: follower -> try the lock; leader -> prove the lock is still held
 *      (step down on any error) before acting;
 *   2. as leader: queue due keys and proxies to the probers;
 *   3. as leader, every HEALTH_HOUSEKEEPING_SECONDS: retention and pruning. */
static int64_t
scheduler_tick(void *arg)
{
    health_jobs *j = arg;
    if (health_leader_check(j->leader)) {
        key_round(j);
        proxy_round(j);
        time_t now = time(NULL);
        if (now >= j->next_housekeeping) {
            j->next_housekeeping =
                now + (time_t)NP_SETTING_NOW(j->env->cfg, health, HEALTH_HOUSEKEEPING_SECONDS);
            housekeeping(j);
        }
    } else {
        j->carry = 0;
        j->next_housekeeping = 0;
    }
    return 0;
}

np_err
health_jobs_start(health_jobs **out, const health_probe_env *env, health_leader *leader,
                  np_rpc_client *audit)
{
    health_jobs *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return NP_ERR_NOMEM;
    }
    j->env = env;
    j->leader = leader;
    j->audit = audit;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    int want = (int)NP_SETTING_NOW(env->cfg, health, HEALTH_CHECK_CONCURRENCY);
    want = want < 1 ? 1 : want > THREADS_MAX ? THREADS_MAX : want;
    np_err err = NP_ERR_OK;
    for (int i = 0; i < want; i++) {
        worker_arg *wa = malloc(sizeof(*wa));
        if (wa == NULL) {
            err = NP_ERR_NOMEM;
            break;
        }
        *wa = (worker_arg){j, i};
        if (pthread_create(&j->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            err = NP_ERR_SYSTEM;
            break;
        }
        j->nthreads++;
    }
    if (err == NP_ERR_OK &&
        (err = np_ticker_start(&j->scheduler, scheduler_tick, j, 1000)) == NP_ERR_OK) {
        np_ticker_kick(j->scheduler); /* the first round now, not in a second */
    }
    if (err != NP_ERR_OK) {
        pthread_mutex_lock(&j->mu);
        j->stop = true;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
        for (int i = 0; i < j->nthreads; i++) {
            pthread_join(j->threads[i], NULL);
        }
        free(j);
        return err;
    }
    *out = j;
    return NP_ERR_OK;
}

void
health_jobs_stop(health_jobs *j)
{
    if (j == NULL) {
        return;
    }
    np_ticker_stop(j->scheduler); /* no more rounds queue work */
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->nthreads; i++) {
        pthread_join(j->threads[i], NULL);
    }
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
