/* Tests of how rows of the config table land in the configuration store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np/config.h"
#include "np/config_watch.h"

#define W_SETTINGS(X)                                                                              \
    X(T_RPM, INT, "10", 1, 1000, NP_CFG_RUNTIME, "runtime number", NULL)                           \
    X(T_FLAG, BOOL, "false", 0, 0, NP_CFG_RUNTIME, "runtime switch", NULL)                         \
    X(T_FIXED, INT, "7", 0, 0, 0, "start-up only", NULL)

typedef struct {
    W_SETTINGS(NP_CFG_FIELD)
} w_settings;

#define W_ROW(...) NP_CFG_ROW(w_settings, __VA_ARGS__)
static const np_cfg_spec table[] = {W_SETTINGS(W_ROW) NP_CFG_END};
static NP_CFG_TABLE(w, table);

static np_config *
load(void)
{
    const np_cfg_table *const tables[] = {&w_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[200] = "";
    setenv("T_RPM", "20", 1);
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    unsetenv("T_RPM");
    return cfg;
}

static void
test_rows_apply_and_fall_back(void **state)
{
    (void)state;
    np_config *cfg = load();
    assert_int_equal(np_config_int(cfg, "T_RPM"), 20);
    assert_int_equal(np_config_source(cfg, "T_RPM"), NP_CFG_SRC_ENV);

    np_settings *before = np_config_acquire(cfg);
    assert_true(np_config_apply_row(cfg, "T_RPM", "55"));
    assert_int_equal(np_config_int(cfg, "T_RPM"), 55);
    /* the change reaches readers as a new snapshot; the one held before keeps 20 */
    assert_int_equal(NP_SETTING_NOW(cfg, w, T_RPM), 55);
    assert_int_equal(NP_SETTINGS_OF(before, w)->T_RPM, 20);
    np_settings_release(before);
    assert_int_equal(np_config_source(cfg, "T_RPM"), NP_CFG_SRC_DB);
    assert_false(np_config_apply_row(cfg, "T_RPM", "55")); /* no change */

    /* a deleted row goes back to the environment's value, not the default */
    assert_true(np_config_apply_row(cfg, "T_RPM", NULL));
    assert_int_equal(np_config_int(cfg, "T_RPM"), 20);
    assert_int_equal(NP_SETTING_NOW(cfg, w, T_RPM), 20);
    assert_int_equal(np_config_source(cfg, "T_RPM"), NP_CFG_SRC_ENV);

    /* start-up settings, unknown keys and invalid values never land */
    assert_false(np_config_apply_row(cfg, "T_FIXED", "9"));
    assert_int_equal(np_config_int(cfg, "T_FIXED"), 7);
    assert_false(np_config_apply_row(cfg, "T_NOPE", "9"));
    assert_false(np_config_apply_row(cfg, "T_RPM", "100000"));
    assert_int_equal(np_config_int(cfg, "T_RPM"), 20);
    np_config_free(cfg);
}

static void
test_full_table_unsets_missing(void **state)
{
    (void)state;
    np_config *cfg = load();
    const char *k1[] = {"T_RPM", "T_FLAG"};
    const char *v1[] = {"33", "true"};
    np_config_apply_table(cfg, k1, v1, 2);
    assert_int_equal(np_config_int(cfg, "T_RPM"), 33);
    assert_true(np_config_bool(cfg, "T_FLAG"));
    const char *k2[] = {"T_FLAG"};
    const char *v2[] = {"true"};
    np_config_apply_table(cfg, k2, v2, 1);
    assert_int_equal(np_config_int(cfg, "T_RPM"), 20);
    assert_true(np_config_bool(cfg, "T_FLAG"));
    assert_true(NP_SETTING_NOW(cfg, w, T_FLAG));
    np_config_apply_table(cfg, NULL, NULL, 0);
    assert_false(np_config_bool(cfg, "T_FLAG"));
    assert_false(NP_SETTING_NOW(cfg, w, T_FLAG));
    assert_int_equal(np_config_source(cfg, "T_FLAG"), NP_CFG_SRC_DEFAULT);
    np_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_apply_and_fall_back),
        cmocka_unit_test(test_full_table_unsets_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
