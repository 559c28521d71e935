/* Unit tests for the move table of a relayed request's states (relay_state.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay_state.h"

/* Paths the relay takes, each move allowed. */
static void
test_paths(void **state)
{
    (void)state;
    static const relay_state paths[][9] = {
        /* a streamed image: passing, first chunk, the end, the last relay.next */
        {RELAY_ADMITTING, RELAY_QUEUED, RELAY_RUNNING, RELAY_PASSING, RELAY_STREAMING,
         RELAY_SETTLING, RELAY_DRAINING, RELAY_DONE, RELAY_DONE},
        /* a 429, another key, a whole answer */
        {RELAY_ADMITTING, RELAY_QUEUED, RELAY_RUNNING, RELAY_JUDGING, RELAY_SETTLING, RELAY_QUEUED,
         RELAY_RUNNING, RELAY_PASSING, RELAY_SETTLING},
        /* a connection that failed before any status, answered */
        {RELAY_ADMITTING, RELAY_QUEUED, RELAY_RUNNING, RELAY_SETTLING, RELAY_DONE, RELAY_DONE,
         RELAY_DONE, RELAY_DONE, RELAY_DONE},
    };
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        for (int i = 0; i + 1 < 9 && paths[p][i + 1] != paths[p][i]; i++) {
            print_message("%s -> %s\n", relay_state_name(paths[p][i]),
                          relay_state_name(paths[p][i + 1]));
            assert_true(relay_state_allowed(paths[p][i], paths[p][i + 1]));
        }
    }
    /* refused, timed out, aborted, not started */
    assert_true(relay_state_allowed(RELAY_ADMITTING, RELAY_DONE));
    assert_true(relay_state_allowed(RELAY_QUEUED, RELAY_DONE));
}

/* Moves the relay must never make. */
static void
test_refused_moves(void **state)
{
    (void)state;
    /* every transfer ends through SETTLING, where relay_decide runs */
    for (relay_state s = RELAY_RUNNING; s <= RELAY_STREAMING; s++) {
        assert_false(relay_state_allowed(s, RELAY_DONE));
        assert_false(relay_state_allowed(s, RELAY_QUEUED));
        assert_false(relay_state_allowed(s, RELAY_DRAINING));
    }
    assert_false(relay_state_allowed(RELAY_JUDGING, RELAY_STREAMING)); /* a judged error */
    assert_false(relay_state_allowed(RELAY_JUDGING, RELAY_PASSING));
    assert_false(relay_state_allowed(RELAY_STREAMING, RELAY_PASSING));
    assert_false(relay_state_allowed(RELAY_QUEUED, RELAY_PASSING));  /* no status without a key */
    assert_false(relay_state_allowed(RELAY_DRAINING, RELAY_QUEUED)); /* answered: no retry */
    assert_false(relay_state_allowed(RELAY_ADMITTING, RELAY_RUNNING));
    for (relay_state s = RELAY_ADMITTING; s <= RELAY_DONE; s++) {
        assert_false(relay_state_allowed(RELAY_DONE, s)); /* DONE is the end */
        assert_false(relay_state_allowed(s, RELAY_ADMITTING));
        assert_false(relay_state_allowed(s, (relay_state)RELAY_STATES));
    }
}

static void
test_names(void **state)
{
    (void)state;
    for (relay_state a = RELAY_ADMITTING; a <= RELAY_DONE; a++) {
        assert_string_not_equal(relay_state_name(a), "?");
        for (relay_state b = a + 1; b <= RELAY_DONE; b++) {
            assert_string_not_equal(relay_state_name(a), relay_state_name(b));
        }
    }
    assert_string_equal(relay_state_name((relay_state)RELAY_STATES), "?");
    assert_string_equal(relay_state_name(RELAY_SETTLING), "settling");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_refused_moves),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
