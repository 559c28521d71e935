/* Tests of the key state rules of a probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "keystate.h"

static const health_key_rules rules = {.threshold = 3, .backoff_base = 60, .backoff_max = 3600};

static health_key_next
decide(const char *state, bool enabled, int64_t streak, const char *verdict, bool forced)
{
    health_key_now now = {state, enabled, streak};
    health_key_rules r = rules;
    r.forced = forced;
    health_key_next next;
    health_key_decide(&now, verdict, &r, &next);
    return next;
}

static void
test_success_activates_everything_but_disabled(void **state)
{
    (void)state;
    const char *from[] = {"pending", "active", "cooling", "exhausted", "invalid", "expired"};
    for (size_t i = 0; i < 6; i++) {
        health_key_next n = decide(from[i], true, 5, "active", false);
        assert_string_equal(n.state, "active");
        assert_int_equal(n.fail_streak, 0);
        assert_int_equal(n.cooldown_s, 0);
        assert_false(n.keep_cooldown);
    }
    health_key_next n = decide("disabled", false, 2, "active", true);
    assert_string_equal(n.state, "disabled");
    n = decide("active", false, 0, "invalid", true);
    assert_string_equal(n.state, "active"); /* disabled by flag: state untouched */
}

static void
test_bad_answers_need_the_threshold_for_active_keys(void **state)
{
    (void)state;
    health_key_next n = decide("active", true, 0, "invalid", false);
    assert_string_equal(n.state, "active");
    assert_int_equal(n.fail_streak, 1);
    n = decide("active", true, 1, "invalid", false);
    assert_string_equal(n.state, "active");
    n = decide("active", true, 2, "invalid", false);
    assert_string_equal(n.state, "invalid");
    assert_int_equal(n.fail_streak, 3);
    /* a forced check, a pending key or a key already down: at once */
    assert_string_equal(decide("active", true, 0, "exhausted", true).state, "exhausted");
    assert_string_equal(decide("pending", true, 0, "expired", false).state, "expired");
    assert_string_equal(decide("exhausted", true, 4, "invalid", false).state, "invalid");
    n = decide("invalid", true, 4, "invalid", false);
    assert_string_equal(n.state, "invalid");
    assert_int_equal(n.fail_streak, 5);
}

static void
test_no_answer_cools_with_backoff(void **state)
{
    (void)state;
    health_key_next n = decide("active", true, 0, NULL, false);
    assert_string_equal(n.state, "active");
    n = decide("active", true, 2, NULL, false);
    assert_string_equal(n.state, "cooling");
    assert_int_equal(n.cooldown_s, 240); /* 60 * 2^(3-1) */
    n = decide("cooling", true, 3, NULL, false);
    assert_string_equal(n.state, "cooling");
    assert_int_equal(n.cooldown_s, 480);
    n = decide("cooling", true, 30, NULL, false);
    assert_int_equal(n.cooldown_s, 3600);
    /* keys down or pending stay as they are */
    n = decide("expired", true, 1, NULL, false);
    assert_string_equal(n.state, "expired");
    assert_true(n.keep_cooldown);
    assert_string_equal(decide("pending", true, 0, NULL, true).state, "pending");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_activates_everything_but_disabled),
        cmocka_unit_test(test_bad_answers_need_the_threshold_for_active_keys),
        cmocka_unit_test(test_no_answer_cools_with_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
