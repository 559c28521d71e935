/* Unit tests for the route table: every method of every forwarded route names an op whose
 * method and pattern are that route's (so the op a service dispatches on is the route the
 * gateway matched), and routes that are not forwarded carry none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "routes.h"

static void
test_forwarded_routes_name_their_ops(void **state)
{
    (void)state;
    size_t n = 0;
    const gw_route *t = gw_routes(&n);
    int forwarded = 0;
    bool seen[NP_OP__COUNT] = {false};
    for (size_t i = 0; i < n; i++) {
        const char *m = t[i].methods;
        while (*m) {
            size_t len = strcspn(m, ",");
            np_http_op op = gw_route_op(&t[i], m, len);
            if (t[i].handler != GW_H_FORWARD) {
                assert_int_equal(op, NP_OP_NONE);
            } else {
                assert_int_not_equal(op, NP_OP_NONE);
                assert_false(seen[op]); /* one route per op */
                seen[op] = true;
                assert_int_equal(strlen(np_http_op_method(op)), len);
                assert_memory_equal(np_http_op_method(op), m, len);
                assert_string_equal(np_http_op_pattern(op), t[i].pattern);
                forwarded++;
            }
            m += len + (m[len] == ',');
        }
    }
    /* Every op in httpops.def is routed. */
    for (int op = 1; op < NP_OP__COUNT; op++) {
        assert_true(np_http_op_method((np_http_op)op) == NULL || seen[op]);
    }
    assert_int_equal(forwarded, 34);
}

static void
test_find_gives_the_op(void **state)
{
    (void)state;
    const char *allow = NULL;
    const char *path = "/admin/keys/5/toggle";
    const gw_route *r = gw_route_find("POST", 4, path, strlen(path), &allow);
    assert_non_null(r);
    assert_int_equal(gw_route_op(r, "POST", 4), NP_OP_ADMIN_KEY_TOGGLE);
    path = "/admin/config";
    r = gw_route_find("PUT", 3, path, strlen(path), &allow);
    assert_non_null(r);
    assert_int_equal(gw_route_op(r, "PUT", 3), NP_OP_ADMIN_CONFIG_PUT);
    assert_int_equal(gw_route_op(r, "DELETE", 6), NP_OP_NONE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forwarded_routes_name_their_ops),
        cmocka_unit_test(test_find_gives_the_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
