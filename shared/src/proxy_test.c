/* Tests of the proxy URL checks, masking, the sticky choice and the cooldown rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np/proxy.h"

static void
test_good_urls(void **state)
{
    (void)state;
    np_proxy_url u;
    char why[200] = "";
    assert_true(np_proxy_url_parse("http://127.0.0.1:3128", &u, why, sizeof(why)));
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 3128);
    assert_false(u.has_credentials);
    assert_string_equal(u.display, "http://127.0.0.1:3128");
    assert_true(
        np_proxy_url_parse("socks5://bob:s3cr3t@proxy.example:1080/", &u, why, sizeof(why)));
    assert_true(u.has_credentials);
    assert_string_equal(u.display, "socks5://bob:****@proxy.example:1080");
    assert_null(strstr(u.display, "s3cr3t"));
    assert_true(np_proxy_url_parse("HTTPS://p.example", &u, why, sizeof(why)));
    assert_int_equal(u.port, 443);
    assert_true(np_proxy_url_parse("http://[::1]:8080", &u, why, sizeof(why)));
    assert_string_equal(u.host, "[::1]");
    /* a password holding '@' keeps the last one as the separator */
    assert_true(np_proxy_url_parse("http://u:p@ss@h:1", &u, why, sizeof(why)));
    assert_string_equal(u.host, "h");
}

static void
test_bad_urls(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "ftp://h:1",
                         "h:3128",
                         "http://",
                         "http://:3128",
                         "http://user:pw@",
                         "http://h:0",
                         "http://h:65536",
                         "http://h:12a",
                         "http://h/path",
                         "http://h?x=1",
                         "http://h k",
                         "http://[::1",
                         "socks4://h:1080"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        np_proxy_url u;
        char why[200] = "";
        assert_false(np_proxy_url_parse(bad[i], &u, why, sizeof(why)));
        assert_true(strlen(why) > 10);
    }
}

static void
test_pick_sticks_and_spreads(void **state)
{
    (void)state;
    int64_t ids[] = {11, 12, 13};
    /* the current proxy stays while healthy, whatever the ranking says */
    for (int64_t k = 1; k < 50; k++) {
        assert_int_equal(np_proxy_pick(k, ids, 3, 12), 12);
    }
    /* without a current one every key gets one of them, deterministically, and all are used */
    int used[3] = {0};
    for (int64_t k = 1; k < 300; k++) {
        int64_t p = np_proxy_pick(k, ids, 3, 0);
        assert_int_equal(p, np_proxy_pick(k, ids, 3, 0));
        assert_true(p >= 11 && p <= 13);
        used[p - 11]++;
    }
    assert_true(used[0] > 50 && used[1] > 50 && used[2] > 50);
    /* a failed proxy's keys move, the others' do not */
    int64_t left[] = {11, 13};
    for (int64_t k = 1; k < 300; k++) {
        int64_t before = np_proxy_pick(k, ids, 3, 0);
        int64_t after = np_proxy_pick(k, left, 2, before == 12 ? 0 : before);
        if (before != 12) {
            assert_int_equal(after, before);
        } else {
            assert_true(after == 11 || after == 13);
        }
    }
    assert_int_equal(np_proxy_pick(5, NULL, 0, 12), 0);
}

static void
test_cooldown(void **state)
{
    (void)state;
    assert_int_equal(np_proxy_cooldown(30, 3, 3, 10, 900), 30);
    assert_int_equal(np_proxy_cooldown(30, 4, 3, 10, 900), 60);
    assert_int_equal(np_proxy_cooldown(30, 6, 3, 10, 900), 240);
    assert_int_equal(np_proxy_cooldown(30, 9, 3, 10, 900), 900);
    assert_int_equal(np_proxy_cooldown(30, 1000, 3, 10, 900), 900);
    assert_int_equal(np_proxy_cooldown(30, 1, 3, 10, 900), 30);
}

/* UPSTREAM_PROXY_HANDLE_*: which failures seen through a proxy count against it. */
static void
test_failure_counts(void **state)
{
    (void)state;
    const np_cfg_table *tables[] = {&np_common_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[128];
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    assert_true(np_proxy_failure_counts(cfg, 429));
    assert_true(np_proxy_failure_counts(cfg, 502));
    assert_true(np_proxy_failure_counts(cfg, 0));
    np_config_set(cfg, "UPSTREAM_PROXY_HANDLE_429", "false", NP_CFG_SRC_DB, why, sizeof(why));
    assert_false(np_proxy_failure_counts(cfg, 429));
    assert_true(np_proxy_failure_counts(cfg, 503));
    np_config_set(cfg, "UPSTREAM_PROXY_HANDLE_5XX", "false", NP_CFG_SRC_DB, why, sizeof(why));
    assert_false(np_proxy_failure_counts(cfg, 407)); /* any refusal of the tunnel but 429 */
    assert_true(np_proxy_failure_counts(cfg, 0));
    np_config_set(cfg, "UPSTREAM_PROXY_HANDLE_NETWORK_ERRORS", "false", NP_CFG_SRC_DB, why,
                  sizeof(why));
    assert_false(np_proxy_failure_counts(cfg, 0));
    np_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_urls),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_pick_sticks_and_spreads),
        cmocka_unit_test(test_cooldown),
        cmocka_unit_test(test_failure_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
