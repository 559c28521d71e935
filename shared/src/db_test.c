/* Unit tests for the row readers and the parameter builder, on results built in memory
 * (PQmakeEmptyPGresult): a NULL, a non-number, a stray suffix, an overflow or a missing cell
 * is an error and never reads as 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "np/db.h"

/* one_row builds a result of one row whose columns hold cells (NULL = SQL NULL). */
static PGresult *
one_row(int n, const char *const *cells)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_non_null(r);
    PGresAttDesc att[8];
    char names[8][16];
    memset(att, 0, sizeof(att));
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "c%d", i);
        att[i].name = names[i];
        att[i].format = 0;
    }
    assert_int_equal(PQsetResultAttrs(r, n, att), 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(
            PQsetvalue(r, 0, i, (char *)(uintptr_t)cells[i], cells[i] ? (int)strlen(cells[i]) : -1),
            1);
    }
    return r;
}

static void
test_reads_good_cells(void **state)
{
    (void)state;
    const char *cells[] = {"42", "-9223372036854775808", "t", "f", "2.5", "hello", NULL};
    PGresult *res = one_row(7, cells);
    np_db_row r = np_db_row_at(res, 0);
    assert_int_equal(np_db_int(&r, 0), 42);
    assert_true(np_db_int(&r, 1) == INT64_MIN);
    assert_true(np_db_bool(&r, 2));
    assert_false(np_db_bool(&r, 3));
    assert_true(np_db_num(&r, 4) == 2.5);
    assert_string_equal(np_db_str(&r, 5), "hello");
    assert_false(np_db_null(&r, 5));
    assert_true(np_db_null(&r, 6));
    assert_int_equal(r.err, NP_ERR_OK);
    PQclear(res);
}

static void
expect_int_error(const char *cell)
{
    const char *cells[] = {cell, "7"};
    PGresult *res = one_row(2, cells);
    np_db_row r = np_db_row_at(res, 0);
    assert_int_equal(np_db_int(&r, 0), 0);
    assert_int_equal(r.err, NP_ERR_DB);
    /* Sticky: later reads return 0 too, so a half-read row is never used. */
    assert_int_equal(np_db_int(&r, 1), 0);
    assert_int_equal(r.err, NP_ERR_DB);
    PQclear(res);
}

static void
test_bad_integers_are_errors(void **state)
{
    (void)state;
    expect_int_error(NULL);
    expect_int_error("");
    expect_int_error("abc");
    expect_int_error("12x");
    expect_int_error("1.5");
    expect_int_error("99999999999999999999");
}

static void
test_bad_other_cells(void **state)
{
    (void)state;
    const char *cells[] = {"yes", NULL, "NaNx", "1"};
    PGresult *res = one_row(4, cells);
    np_db_row r = np_db_row_at(res, 0);
    assert_false(np_db_bool(&r, 0));
    assert_int_equal(r.err, NP_ERR_DB);

    r = np_db_row_at(res, 0);
    assert_string_equal(np_db_str(&r, 1), "");
    assert_int_equal(r.err, NP_ERR_DB);

    r = np_db_row_at(res, 0);
    assert_true(np_db_num(&r, 2) == 0);
    assert_int_equal(r.err, NP_ERR_DB);

    r = np_db_row_at(res, 0); /* no such column, no such row */
    assert_int_equal(np_db_int(&r, 9), 0);
    assert_int_equal(r.err, NP_ERR_DB);
    r = np_db_row_at(res, 1);
    assert_true(np_db_null(&r, 3));
    assert_int_equal(r.err, NP_ERR_DB);
    PQclear(res);
}

static void
test_params(void **state)
{
    (void)state;
    np_db_params p;
    np_db_params_init(&p);
    const char *name = "alice";
    np_db_param_int(&p, -12);
    np_db_param_str(&p, name);
    np_db_param_bool(&p, true);
    np_db_param_null(&p);
    np_db_param_num(&p, 0.1);
    np_db_param_int(&p, INT64_MAX);
    assert_int_equal(p.n, 6);
    assert_string_equal(p.v[0], "-12");
    assert_ptr_equal(p.v[1], name);
    assert_string_equal(p.v[2], "true");
    assert_null(p.v[3]);
    assert_string_equal(p.v[4], "0.10000000000000001");
    assert_string_equal(p.v[5], "9223372036854775807");
    assert_false(p.overflow);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_good_cells),
        cmocka_unit_test(test_bad_integers_are_errors),
        cmocka_unit_test(test_bad_other_cells),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
