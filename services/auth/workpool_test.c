/* Unit tests for the bounded work pool: jobs run, the queue bound holds, closing drains. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "workpool.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open; /* the gate: jobs wait until it opens */
    atomic_int started;
    atomic_int ran;
} gate;

static void
gated_job(void *arg)
{
    gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->ran, 1);
}

static void
open_gate(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void
test_jobs_run_and_close_drains(void **state)
{
    (void)state;
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, 0, 0};
    auth_workpool *w = auth_workpool_new(2, 100);
    assert_non_null(w);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(auth_workpool_submit(w, gated_job, &g), NP_ERR_OK);
    }
    auth_workpool_stop(w);
    assert_int_equal(atomic_load(&g.ran), 50); /* stop ran every queued job */
    assert_int_equal(auth_workpool_submit(w, gated_job, &g), NP_ERR_CLOSED);
    auth_workpool_free(w);
    assert_int_equal(atomic_load(&g.ran), 50);
}

static void
test_queue_bound(void **state)
{
    (void)state;
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};
    auth_workpool *w = auth_workpool_new(1, 3);
    assert_non_null(w);
    /* The first job occupies the only thread; then exactly 3 more fit in the queue. */
    assert_int_equal(auth_workpool_submit(w, gated_job, &g), NP_ERR_OK);
    while (atomic_load(&g.started) == 0) {
        sched_yield();
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(auth_workpool_submit(w, gated_job, &g), NP_ERR_OK);
    }
    assert_int_equal(auth_workpool_submit(w, gated_job, &g), NP_ERR_UNAVAILABLE);
    open_gate(&g);
    auth_workpool_free(w);
    assert_int_equal(atomic_load(&g.ran), 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_run_and_close_drains),
        cmocka_unit_test(test_queue_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
