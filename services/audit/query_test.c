/* Tests of strict query strings, times and cursors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "logs.h"
#include "query.h"

static const char *const keys[] = {"limit", "before", "status", NULL};

static void
test_query_parse(void **state)
{
    audit_query q;
    char why[256];
    assert_true(audit_query_parse("limit=5&status=%34xx&before=", keys, &q, why, sizeof(why)));
    assert_string_equal(audit_query_get(&q, "limit"), "5");
    assert_string_equal(audit_query_get(&q, "status"), "4xx");
    assert_null(audit_query_get(&q, "before")); /* empty means absent */
    assert_true(audit_query_parse("", keys, &q, why, sizeof(why)));
    assert_int_equal(q.n, 0);
    assert_false(audit_query_parse("limit=1&limit=2", keys, &q, why, sizeof(why)));
    assert_non_null(strstr(why, "more than once"));
    assert_false(audit_query_parse("user=3", keys, &q, why, sizeof(why)));
    assert_non_null(strstr(why, "unknown query parameter 'user'"));
    assert_false(audit_query_parse("limit=%zz", keys, &q, why, sizeof(why)));
    assert_false(audit_query_parse("limit=%00", keys, &q, why, sizeof(why)));
}

static void
test_ints_and_times(void **state)
{
    int64_t v, us;
    assert_true(audit_parse_int("500", 1, 500, &v));
    assert_int_equal(v, 500);
    assert_false(audit_parse_int("501", 1, 500, &v));
    assert_false(audit_parse_int("0", 1, 500, &v));
    assert_false(audit_parse_int("-1", 1, 500, &v));
    assert_false(audit_parse_int("1e3", 1, 5000, &v));
    assert_false(audit_parse_int("", 1, 5000, &v));
    assert_false(audit_parse_int(" 5", 1, 5000, &v));
    assert_true(audit_parse_time("1700000000", &us));
    assert_int_equal(us, 1700000000LL * 1000000);
    assert_true(audit_parse_time("2023-11-14T22:13:20Z", &us));
    assert_int_equal(us, 1700000000LL * 1000000);
    assert_true(audit_parse_time("2023-11-14T23:13:20.5+01:00", &us));
    assert_int_equal(us, 1700000000LL * 1000000 + 500000);
    assert_true(audit_parse_time("2024-02-29", &us));
    assert_false(audit_parse_time("2023-02-29", &us));
    assert_false(audit_parse_time("2023-11-14T22:13:20", &us)); /* no zone */
    assert_false(audit_parse_time("yesterday", &us));
    assert_false(audit_parse_time("2023-13-01", &us));
    char out[40];
    audit_time_format(1700000000LL * 1000000 + 123456, out, sizeof(out));
    assert_string_equal(out, "2023-11-14T22:13:20.123Z");
}

static void
test_cursor(void **state)
{
    char c[48];
    int64_t t, id;
    audit_cursor_format(1700000000123456LL, 42, c, sizeof(c));
    assert_true(audit_cursor_parse(c, &t, &id));
    assert_int_equal(t, 1700000000123456LL);
    assert_int_equal(id, 42);
    assert_false(audit_cursor_parse("42", &t, &id));
    assert_false(audit_cursor_parse("_42", &t, &id));
    assert_false(audit_cursor_parse("1_0", &t, &id));
    assert_false(audit_cursor_parse("1_2_3", &t, &id));
    assert_false(audit_cursor_parse("abc_def", &t, &id));
    assert_false(audit_cursor_parse("1_2; DROP TABLE usage_logs", &t, &id));
}

static void
test_logs_filter(void **state)
{
    audit_logs_filter f;
    char why[256];
    assert_int_equal(audit_logs_filter_parse("", false, 7, &f, why, sizeof(why)), NP_ERR_OK);
    assert_int_equal(f.user_id, 7);
    assert_int_equal(f.limit, AUDIT_LOGS_LIMIT_DEFAULT);
    /* A user cannot ask for someone else's rows. */
    assert_int_equal(audit_logs_filter_parse("user=8", false, 7, &f, why, sizeof(why)),
                     NP_ERR_INVALID);
    assert_int_equal(audit_logs_filter_parse("user=8&status=error&route=%2Fai%2Fgenerate-image",
                                             true, 1, &f, why, sizeof(why)),
                     NP_ERR_OK);
    assert_int_equal(f.user_id, 8);
    assert_int_equal(f.status_lo, 400);
    assert_string_equal(f.route, "/ai/generate-image");
    assert_int_equal(audit_logs_filter_parse("", true, 1, &f, why, sizeof(why)), NP_ERR_OK);
    assert_int_equal(f.user_id, 0);
    static const char *const bad[] = {
        "limit=0",        "limit=501",  "limit=ten",
        "status=200x",    "status=99",  "before=nope",
        "since=tomorrow", "route=ai",   "since=2030-01-01&until=2020-01-01",
        "status=600",     "colour=red", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        why[0] = '\0';
        assert_int_equal(audit_logs_filter_parse(bad[i], false, 7, &f, why, sizeof(why)),
                         NP_ERR_INVALID);
        assert_true(strlen(why) > 10);
    }
    /* The SQL carries values only as parameters. */
    assert_int_equal(
        audit_logs_filter_parse("route=%27%3B--&before=5_6", false, 7, &f, why, sizeof(why)),
        NP_ERR_INVALID); /* a route must start with / */
    assert_int_equal(
        audit_logs_filter_parse("route=/x%27%3B--&before=5_6", false, 7, &f, why, sizeof(why)),
        NP_ERR_OK);
    audit_sql q;
    audit_sql_init(&q);
    audit_logs_sql(&f, &q);
    assert_null(strstr(q.text.data, "/x'"));
    assert_null(strstr(q.text.data, "upstream_key_id")); /* users never get key ids */
    assert_null(strstr(q.text.data, "ip"));
    assert_int_equal(q.n, 5); /* user, route, before time, before id, limit */
    assert_string_equal(q.v[1], "/x';--");
    audit_sql_fini(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_ints_and_times),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_logs_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
