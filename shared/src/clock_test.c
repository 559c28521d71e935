/* Unit tests for the clocks, monotonic condvar waits and the periodic thread: a wait ends at
 * its deadline, a ticker runs on its period, a kick runs it at once, and stop wakes it at once
 * (a ticker with an hour's period stops well within the test's timeout). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "np/clock.h"

static void
test_clocks(void **state)
{
    (void)state;
    int64_t a = np_now_ms(), b = np_now_ms();
    assert_true(b >= a);
    /* The wall clock is epoch milliseconds (after 2020-01-01), the monotonic one is not. */
    assert_true(np_wall_ms() > 1577836800000LL);
    assert_true(np_deadline_ms(100) >= a + 100);
    assert_true(np_deadline_ms(INT64_MAX) == INT64_MAX);
}

static void
test_wait_until_times_out(void **state)
{
    (void)state;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    np_cond_init(&cv);
    pthread_mutex_lock(&mu);
    int64_t start = np_now_ms();
    int rv = 0;
    while (rv == 0) {
        rv = np_cond_wait_until(&cv, &mu, start + 50);
    }
    assert_int_equal(rv, ETIMEDOUT);
    assert_true(np_now_ms() >= start + 50);
    /* A deadline already past returns at once. */
    assert_int_equal(np_cond_wait_until(&cv, &mu, start), ETIMEDOUT);
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cv);
}

typedef struct {
    pthread_mutex_t mu;
    int runs;
    int64_t next;
} counter;

static int64_t
count_run(void *arg)
{
    counter *c = arg;
    pthread_mutex_lock(&c->mu);
    c->runs++;
    int64_t next = c->next;
    pthread_mutex_unlock(&c->mu);
    return next;
}

static int
runs_of(counter *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->runs;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void
wait_runs(counter *c, int n)
{
    int64_t until = np_now_ms() + 10000;
    while (runs_of(c) < n && np_now_ms() < until) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void
test_ticker_runs_on_period(void **state)
{
    (void)state;
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    np_ticker *t = NULL;
    assert_int_equal(np_ticker_start(&t, count_run, &c, 10), NP_ERR_OK);
    wait_runs(&c, 3);
    np_ticker_stop(t);
    int n = runs_of(&c);
    assert_true(n >= 3);
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    assert_int_equal(runs_of(&c), n); /* never called after stop */
}

static void
test_ticker_kick_and_stop_at_once(void **state)
{
    (void)state;
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    np_ticker *t = NULL;
    int64_t hour = 3600 * 1000;
    assert_int_equal(np_ticker_start(&t, count_run, &c, hour), NP_ERR_OK);
    np_ticker_kick(t);
    wait_runs(&c, 1);
    assert_int_equal(runs_of(&c), 1);
    int64_t start = np_now_ms();
    np_ticker_stop(t);
    assert_true(np_now_ms() - start < hour);
    assert_int_equal(runs_of(&c), 1);
}

static void
test_ticker_period_from_fn(void **state)
{
    (void)state;
    /* Starts with an hour, but the first (kicked) run asks for 5 ms: it keeps running. */
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 5};
    np_ticker *t = NULL;
    assert_int_equal(np_ticker_start(&t, count_run, &c, 3600 * 1000), NP_ERR_OK);
    np_ticker_kick(t);
    wait_runs(&c, 4);
    np_ticker_stop(t);
    assert_true(runs_of(&c) >= 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_wait_until_times_out),
        cmocka_unit_test(test_ticker_runs_on_period),
        cmocka_unit_test(test_ticker_kick_and_stop_at_once),
        cmocka_unit_test(test_ticker_period_from_fn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
