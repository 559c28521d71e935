/* Unit tests for the key-level policy: which answers retry, which harm the key, and the
 * exponential cooldown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "outcome.h"

static const pool_cooldowns cd = {.base_409 = 3,
                                  .base_429 = 8,
                                  .base_5xx = 15,
                                  .base_402 = 60,
                                  .max = 300,
                                  .locked = 3,
                                  .cancel = 5};

static void
test_table(void **state)
{
    (void)state;
    pool_outcome_action a;
    pool_outcome_decide(NP_NAI_OK, true, false, &cd, &a);
    assert_string_equal(a.state, "active");
    assert_true(a.reset_streak);
    assert_false(a.retry);
    pool_outcome_decide(NP_NAI_CLIENT, true, false, &cd, &a);
    assert_null(a.state); /* a 400 does not harm the key */
    assert_false(a.strike);
    assert_false(a.retry);
    pool_outcome_decide(NP_NAI_INVALID, true, false, &cd, &a);
    assert_string_equal(a.state, "invalid");
    assert_true(a.retry);
    pool_outcome_decide(NP_NAI_EXHAUSTED, true, false, &cd, &a);
    assert_string_equal(a.state, "exhausted");
    assert_true(a.retry);
    pool_outcome_decide(NP_NAI_LOCKED, true, false, &cd, &a);
    assert_string_equal(a.state, "cooling");
    assert_false(a.strike);
    assert_true(a.retry);
    assert_int_equal(a.cooldown_s, 3);
    pool_outcome_decide(NP_NAI_RATE, true, false, &cd, &a);
    assert_int_equal(a.cooldown_s, 8);
    assert_true(a.strike);
    pool_outcome_decide(NP_NAI_CONFLICT, true, false, &cd, &a);
    assert_int_equal(a.cooldown_s, 3);
    assert_true(a.retry);
    /* a 5xx may have billed: retry only when free or surely not sent */
    pool_outcome_decide(NP_NAI_SERVER, true, false, &cd, &a);
    assert_string_equal(a.state, "cooling");
    assert_int_equal(a.cooldown_s, 15);
    assert_false(a.retry);
    pool_outcome_decide(NP_NAI_SERVER, true, true, &cd, &a);
    assert_true(a.retry);
    pool_outcome_decide(NP_NAI_NETWORK, false, false, &cd, &a);
    assert_true(a.retry);
    pool_outcome_decide(NP_NAI_NETWORK, true, false, &cd, &a);
    assert_false(a.retry);
    pool_outcome_cancelled(&cd, &a);
    assert_int_equal(a.cooldown_s, 5);
    assert_false(a.strike);
}

static void
test_backoff(void **state)
{
    (void)state;
    assert_int_equal(pool_cooldown_seconds(15, 0, true, 300), 15);
    assert_int_equal(pool_cooldown_seconds(15, 1, true, 300), 30);
    assert_int_equal(pool_cooldown_seconds(15, 3, true, 300), 120);
    assert_int_equal(pool_cooldown_seconds(15, 5, true, 300), 300);
    assert_int_equal(pool_cooldown_seconds(15, 60, true, 300), 300);
    assert_int_equal(pool_cooldown_seconds(3, 5, false, 300), 3);
    /* DYNAMIC_COOLDOWN_ENABLED=false: every cooldown is its base */
    pool_outcome_action a = {.cooldown_s = 15, .backoff = true};
    pool_cooldowns dyn = {.max = 300, .dynamic = true}, flat = {.max = 300, .dynamic = false};
    assert_int_equal(pool_cooldown_for(&a, 3, &dyn), 120);
    assert_int_equal(pool_cooldown_for(&a, 3, &flat), 15);
    a.cooldown_s = 0;
    assert_int_equal(pool_cooldown_for(&a, 3, &dyn), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
