/* For tests on real NNG sockets: count the connections a socket accepts, and wait (bounded)
 * until a number of them are up, instead of sleeping and hoping the dials were quick. */
#ifndef NP_TEST_PIPES_H
#define NP_TEST_PIPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include <nng/nng.h>

static void
np_test_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)ev;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* np_test_count_pipes makes every connection s accepts add one to *n. */
static inline int
np_test_count_pipes(nng_socket s, atomic_int *n)
{
    return nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, np_test_pipe_added, n);
}

/* np_test_wait_pipes waits up to 5 s until *n reaches want. */
static inline bool
np_test_wait_pipes(atomic_int *n, int want)
{
    for (int i = 0; i < 500 && atomic_load(n) < want; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(n) >= want;
}

#endif
