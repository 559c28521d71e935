/* Unit tests for the key-upload probe pool: the bound on jobs beyond the threads, the order
 * jobs run in, and a close that cancels what still waits and lets running jobs finish. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "keyprobe.h"

/* A gate the test opens: jobs block on it, so the test decides when they finish. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool open_gate;
static int started, ran, cancelled;
static int order[8];

typedef struct {
    pool_keyprobe_job job;
    int n;
} job;

static void
run(pool_keyprobe_job *j)
{
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    while (!open_gate) {
        pthread_cond_wait(&cv, &mu);
    }
    order[ran++] = ((job *)j)->n;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void
cancel(pool_keyprobe_job *j)
{
    (void)j;
    pthread_mutex_lock(&mu);
    cancelled++;
    pthread_mutex_unlock(&mu);
}

static void
reset(void)
{
    open_gate = false;
    started = ran = cancelled = 0;
}

static void
wait_for(const int *counter, int n)
{
    pthread_mutex_lock(&mu);
    while (*counter < n) {
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
}

static void
release(void)
{
    pthread_mutex_lock(&mu);
    open_gate = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void
test_bound_beyond_the_threads(void **state)
{
    (void)state;
    reset();
    pool_keyprobe *kp;
    assert_int_equal(pool_keyprobe_open(&kp, 2), NP_ERR_OK);
    job jobs[5];
    for (int i = 0; i < 5; i++) {
        jobs[i] = (job){.job = {.run = run, .cancel = cancel}, .n = i};
    }
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[0].job, 1), NP_ERR_OK);
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[1].job, 1), NP_ERR_OK);
    wait_for(&started, 2);
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[2].job, 1), NP_ERR_OK); /* waits */
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[3].job, 1), NP_ERR_UNAVAILABLE);
    int running, waiting;
    pool_keyprobe_counts(kp, &running, &waiting);
    assert_int_equal(running, 2);
    assert_int_equal(waiting, 1);
    /* a larger bound (the setting is read per call) admits one more */
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[3].job, 2), NP_ERR_OK);
    release();
    wait_for(&ran, 4);
    pool_keyprobe_close(kp);
    assert_int_equal(ran, 4);
    assert_int_equal(cancelled, 0);
}

static void
test_jobs_run_in_the_order_they_came(void **state)
{
    (void)state;
    reset();
    pool_keyprobe *kp;
    assert_int_equal(pool_keyprobe_open(&kp, 1), NP_ERR_OK);
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){.job = {.run = run, .cancel = cancel}, .n = i};
        assert_int_equal(pool_keyprobe_submit(kp, &jobs[i].job, 3), NP_ERR_OK);
    }
    release();
    wait_for(&ran, 4);
    pool_keyprobe_close(kp);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(order[i], i);
    }
}

static void *
close_main(void *kp)
{
    pool_keyprobe_close(kp);
    return NULL;
}

static void
test_close_cancels_waiting_jobs(void **state)
{
    (void)state;
    reset();
    pool_keyprobe *kp;
    assert_int_equal(pool_keyprobe_open(&kp, 1), NP_ERR_OK);
    job jobs[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (job){.job = {.run = run, .cancel = cancel}, .n = i};
    }
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[0].job, 0), NP_ERR_OK);
    wait_for(&started, 1);
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[1].job, 0), NP_ERR_UNAVAILABLE);
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[1].job, 2), NP_ERR_OK);
    assert_int_equal(pool_keyprobe_submit(kp, &jobs[2].job, 2), NP_ERR_OK);
    /* close while job 0 runs: it finishes, the two waiting ones are cancelled */
    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, close_main, kp), 0);
    job probe = {.job = {.run = run, .cancel = cancel}, .n = 9};
    while (pool_keyprobe_submit(kp, &probe.job, 0) != NP_ERR_CLOSED) {
        sched_yield(); /* refused as full until the close has begun */
    }
    release();
    pthread_join(closer, NULL);
    assert_int_equal(ran, 1);
    assert_int_equal(order[0], 0);
    assert_int_equal(cancelled, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_beyond_the_threads),
        cmocka_unit_test(test_jobs_run_in_the_order_they_came),
        cmocka_unit_test(test_close_cancels_waiting_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
