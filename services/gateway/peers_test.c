/* Tests for the expansion of POOL_RPC_URL into pool instances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "peers.h"

static void
test_expand(void **state)
{
    (void)state;
    char out[512];
    assert_true(gw_peers_expand("tcp://127.0.0.1:7102", out, sizeof(out)));
    assert_string_equal(out, "tcp://127.0.0.1:7102");
    assert_true(gw_peers_expand("inproc://naipool-pool", out, sizeof(out)));
    assert_string_equal(out, "inproc://naipool-pool");
    assert_true(gw_peers_expand("tcp://127.0.0.1:1,tcp://127.0.0.2:2", out, sizeof(out)));
    assert_string_equal(out, "tcp://127.0.0.1:1,tcp://127.0.0.2:2");
    /* a name stands for every address it resolves to (localhost: from /etc/hosts) */
    assert_true(gw_peers_expand("tcp://localhost:7102", out, sizeof(out)));
    assert_string_equal(out, "tcp://127.0.0.1:7102");
    assert_false(gw_peers_expand("tcp://127.0.0.1:7102", out, 8)); /* does not fit */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expand)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
