/* Unit tests for the flusher's batch helpers (the UPDATE itself runs in the e2e tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "flusher.h"

static void
test_unique(void **state)
{
    (void)state;
    int64_t ids[] = {5, 3, 5, 9, 3, 3, 1};
    size_t n = auth_ids_unique(ids, 7);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 5);
    assert_int_equal(ids[3], 9);
    assert_int_equal(auth_ids_unique(ids, 0), 0);
}

static void
test_array_literal(void **state)
{
    (void)state;
    int64_t ids[] = {1, 22, 9000000000LL};
    np_buf b;
    np_buf_init(&b, 0);
    assert_int_equal(auth_ids_array(ids, 3, &b), NP_ERR_OK);
    assert_string_equal(b.data, "{1,22,9000000000}");
    np_buf_reset(&b);
    assert_int_equal(auth_ids_array(ids, 0, &b), NP_ERR_OK);
    assert_string_equal(b.data, "{}");
    np_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_array_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
