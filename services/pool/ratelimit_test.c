/* Unit tests for the rate rule, the GCRA arithmetic behind the X-RateLimit headers, and the
 * in-flight counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

static void
test_rule(void **state)
{
    (void)state;
    pool_settings ps = {.RATE_LIMIT_MODE = "auto",
                        .MANUAL_GLOBAL_RPM = 7,
                        .BASE_RPM = 5,
                        .PER_KEY_RPM = 10,
                        .MAX_RPM = 30,
                        .BASE_RPM_CONTRIBUTOR_ONLY = false};
    assert_int_equal(pool_rpm_compute(&ps, -1, 0), 5);
    assert_int_equal(pool_rpm_compute(&ps, -1, 1), 15);
    assert_int_equal(pool_rpm_compute(&ps, -1, 5), 30);   /* capped by MAX_RPM */
    assert_int_equal(pool_rpm_compute(&ps, 100, 0), 100); /* the override wins */
    assert_int_equal(pool_rpm_compute(&ps, 0, 3), 0);
    ps.BASE_RPM_CONTRIBUTOR_ONLY = true;
    assert_int_equal(pool_rpm_compute(&ps, -1, 0), 0);
    assert_int_equal(pool_rpm_compute(&ps, -1, 1), 15);
    ps.RATE_LIMIT_MODE = "manual";
    assert_int_equal(pool_rpm_compute(&ps, -1, 3), 7);
}

/* The contribution gate reads the settings an admin changes at run time. */
static void
test_contribution_gate(void **state)
{
    (void)state;
    const np_cfg_table *tables[] = {&pool_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[128];
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    pool_user_limits none = {.rpm = 0, .contributed = 0, .healthy = 0};
    assert_true(pool_rate_needs_contribution(cfg, &none)); /* the defaults: BASE_RPM 0, gate on */
    assert_int_equal(
        np_config_set(cfg, "BASE_RPM_CONTRIBUTOR_ONLY", "false", NP_CFG_SRC_DB, why, sizeof(why)),
        NP_ERR_OK);
    assert_false(pool_rate_needs_contribution(cfg, &none));
    np_config_unset(cfg, "BASE_RPM_CONTRIBUTOR_ONLY");
    assert_true(pool_rate_needs_contribution(cfg, &none));
    assert_int_equal(
        np_config_set(cfg, "RATE_LIMIT_MODE", "manual", NP_CFG_SRC_DB, why, sizeof(why)),
        NP_ERR_OK);
    assert_false(pool_rate_needs_contribution(cfg, &none));
    np_config_free(cfg);
}

static void
test_gcra(void **state)
{
    (void)state;
    pool_rate_result r;
    /* 6 rpm: T = 10 s. The first request leaves the TAT 10 s ahead: 5 left. */
    pool_rate_from_ahead(6, 10000, true, &r);
    assert_true(r.allowed);
    assert_int_equal(r.limit, 6);
    assert_int_equal(r.remaining, 5);
    assert_int_equal(r.reset_s, 10);
    /* the sixth request fills the minute */
    pool_rate_from_ahead(6, 60000, true, &r);
    assert_int_equal(r.remaining, 0);
    /* refused with the TAT 55 s ahead: the next slot opens in 5 s */
    pool_rate_from_ahead(6, 55000, false, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_s, 5);
    pool_rate_from_ahead(6, 59990, false, &r);
    assert_int_equal(r.retry_after_s, 10);
    pool_rate_from_ahead(6, 50100, false, &r);
    assert_int_equal(r.retry_after_s, 1);
}

static void
test_inflight(void **state)
{
    (void)state;
    pool_inflight *f = pool_inflight_new();
    assert_true(pool_inflight_enter(f, 1, 2));
    assert_true(pool_inflight_enter(f, 1, 2));
    assert_false(pool_inflight_enter(f, 1, 2));
    assert_true(pool_inflight_enter(f, 2, 1));
    pool_inflight_leave(f, 1);
    assert_true(pool_inflight_enter(f, 1, 2));
    /* many users: the table grows and keeps counting right */
    for (int64_t u = 100; u < 2100; u++) {
        assert_true(pool_inflight_enter(f, u, 1));
    }
    for (int64_t u = 100; u < 2100; u++) {
        assert_false(pool_inflight_enter(f, u, 1));
        pool_inflight_leave(f, u);
    }
    assert_false(pool_inflight_enter(f, 1, 2));
    pool_inflight_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_contribution_gate),
        cmocka_unit_test(test_gcra),
        cmocka_unit_test(test_inflight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
