/* Unit tests for the id map: put/get/replace/delete, growth past many ids, and deletion in
 * the middle of a probe run keeps every other id reachable (checked against a plain array). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "np/idmap.h"

static void
test_basic(void **state)
{
    (void)state;
    np_idmap m;
    np_idmap_init(&m);
    int a = 1, b = 2;
    assert_null(np_idmap_get(&m, 7));
    assert_null(np_idmap_del(&m, 7));
    assert_int_equal(np_idmap_put(&m, 7, &a), NP_ERR_OK);
    assert_int_equal(np_idmap_put(&m, 0, &b), NP_ERR_OK); /* 0 and negatives are ids too */
    assert_int_equal(np_idmap_put(&m, -3, &b), NP_ERR_OK);
    assert_ptr_equal(np_idmap_get(&m, 7), &a);
    assert_ptr_equal(np_idmap_get(&m, 0), &b);
    assert_int_equal(np_idmap_put(&m, 7, &b), NP_ERR_OK); /* replaces */
    assert_ptr_equal(np_idmap_get(&m, 7), &b);
    assert_int_equal(np_idmap_count(&m), 3);
    assert_ptr_equal(np_idmap_del(&m, 7), &b);
    assert_null(np_idmap_get(&m, 7));
    assert_int_equal(np_idmap_count(&m), 2);
    np_idmap_fini(&m);
    assert_int_equal(np_idmap_count(&m), 0);
}

enum { N = 5000 };

static void
test_many_with_deletes(void **state)
{
    (void)state;
    static int vals[N];
    static bool in[N];
    np_idmap m;
    np_idmap_init(&m);
    /* Ids with a stride so several share home slots; delete every third, then check all. */
    for (int i = 0; i < N; i++) {
        assert_int_equal(np_idmap_put(&m, (int64_t)i * 4096, &vals[i]), NP_ERR_OK);
        in[i] = true;
    }
    for (int i = 0; i < N; i += 3) {
        assert_ptr_equal(np_idmap_del(&m, (int64_t)i * 4096), &vals[i]);
        in[i] = false;
    }
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        void *got = np_idmap_get(&m, (int64_t)i * 4096);
        if (in[i]) {
            assert_ptr_equal(got, &vals[i]);
            n++;
        } else {
            assert_null(got);
        }
        assert_null(np_idmap_get(&m, (int64_t)i * 4096 + 1));
    }
    assert_int_equal(np_idmap_count(&m), n);
    np_idmap_fini(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_many_with_deletes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
