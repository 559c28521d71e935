/* Unit tests for merging Prometheus text from several sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "promtext.h"

static void
merge(const char *const *texts, int n, const char *want)
{
    np_buf in[8], out;
    for (int i = 0; i < n; i++) {
        np_buf_init(&in[i], 0);
        if (texts[i] != NULL) {
            np_buf_puts(&in[i], texts[i]);
        }
    }
    np_buf_init(&out, 0);
    assert_int_equal(gw_promtext_merge(in, n, &out), NP_ERR_OK);
    assert_string_equal(out.data != NULL ? out.data : "", want);
    np_buf_fini(&out);
    for (int i = 0; i < n; i++) {
        np_buf_fini(&in[i]);
    }
}

static void
test_two_instances_one_family(void **state)
{
    (void)state;
    const char *a = "# HELP q Waiting.\n# TYPE q gauge\nq{node=\"p1\"} 1\n"
                    "# HELP k Keys.\n# TYPE k gauge\nk{node=\"p1\",state=\"active\"} 3\n";
    const char *b = "# HELP q Waiting.\n# TYPE q gauge\nq{node=\"p2\"} 0\n"
                    "# HELP k Keys.\n# TYPE k gauge\nk{node=\"p2\",state=\"active\"} 3\n";
    const char *texts[] = {a, b};
    merge(texts, 2,
          "# HELP q Waiting.\n# TYPE q gauge\nq{node=\"p1\"} 1\nq{node=\"p2\"} 0\n"
          "# HELP k Keys.\n# TYPE k gauge\nk{node=\"p1\",state=\"active\"} 3\n"
          "k{node=\"p2\",state=\"active\"} 3\n");
}

static void
test_sources_keep_their_order_and_histograms_stay_whole(void **state)
{
    (void)state;
    const char *gw = "# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 2\n"
                     "lat_bucket{le=\"+Inf\"} 3\nlat_sum 4.5\nlat_count 3\n";
    const char *svc = "# HELP up Up.\n# TYPE up gauge\nup{svc=\"auth\"} 1\n";
    const char *svc2 = "# TYPE up gauge\n# HELP up Up again.\nup{svc=\"pool\"} 1\n";
    const char *texts[] = {gw, svc, NULL, svc2};
    merge(texts, 4,
          "# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 2\n"
          "lat_bucket{le=\"+Inf\"} 3\nlat_sum 4.5\nlat_count 3\n"
          "# HELP up Up.\n# TYPE up gauge\nup{svc=\"auth\"} 1\nup{svc=\"pool\"} 1\n");
}

static void
test_bare_samples_comments_and_odd_lines(void **state)
{
    (void)state;
    /* samples without HELP/TYPE, a free comment, blank lines and no final newline */
    const char *a = "# a comment\nx 1\n\ny{a=\"b\"} 2";
    const char *b = "x 3\n";
    const char *texts[] = {a, b};
    merge(texts, 2, "x 1\nx 3\ny{a=\"b\"} 2\n");
    const char *none[] = {NULL, ""};
    merge(none, 2, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_instances_one_family),
        cmocka_unit_test(test_sources_keep_their_order_and_histograms_stay_whole),
        cmocka_unit_test(test_bare_samples_comments_and_odd_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
