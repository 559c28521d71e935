/* Unit tests for authenticated messages: a sealed message opens once, and a forged, altered,
 * unsealed or replayed one is refused and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np/wire_mac.h"

static nng_msg *
msg_of(const char *text)
{
    nng_msg *m;
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, text, strlen(text)), 0);
    return m;
}

static nng_msg *
copy_of(nng_msg *m)
{
    nng_msg *c;
    assert_int_equal(nng_msg_dup(&c, m), 0);
    return c;
}

static void
test_seal_open_replay(void **state)
{
    (void)state;
    assert_int_equal(np_wire_auth_setup("a-long-internal-secret-for-the-unit-test"), NP_ERR_OK);
    assert_true(np_wire_auth_enabled());
    np_wire_guard *g = np_wire_guard_new();
    assert_non_null(g);

    nng_msg *m = msg_of("hello");
    assert_int_equal(np_wire_seal(m), NP_ERR_OK);
    assert_int_equal(nng_msg_len(m), 5 + NP_WIRE_MAC_TRAILER);
    nng_msg *again = copy_of(m);
    nng_msg *altered = copy_of(m);
    ((char *)nng_msg_body(altered))[0] ^= 1;
    assert_int_equal(np_wire_open(g, m), NP_ERR_OK);
    assert_int_equal(nng_msg_len(m), 5);
    assert_memory_equal(nng_msg_body(m), "hello", 5);
    /* the same bytes a second time: a replay */
    assert_int_equal(np_wire_open(g, again), NP_ERR_UNAUTHORIZED);
    /* one bit changed */
    assert_int_equal(np_wire_open(g, altered), NP_ERR_UNAUTHORIZED);
    /* no trailer at all */
    nng_msg *bare = msg_of("{\"op\":\"ping\"}");
    assert_int_equal(np_wire_open(g, bare), NP_ERR_UNAUTHORIZED);
    assert_int_equal(np_wire_guard_dropped(g), 3);

    /* messages may arrive out of order; each still opens once */
    nng_msg *a = msg_of("a"), *b = msg_of("b");
    assert_int_equal(np_wire_seal(a), NP_ERR_OK);
    assert_int_equal(np_wire_seal(b), NP_ERR_OK);
    assert_int_equal(np_wire_open(g, b), NP_ERR_OK);
    assert_int_equal(np_wire_open(g, a), NP_ERR_OK);

    /* another guard (another socket) keeps its own window */
    np_wire_guard *g2 = np_wire_guard_new();
    nng_msg *c = msg_of("c");
    assert_int_equal(np_wire_seal(c), NP_ERR_OK);
    nng_msg *c2 = copy_of(c);
    assert_int_equal(np_wire_open(g, c), NP_ERR_OK);
    assert_int_equal(np_wire_open(g2, c2), NP_ERR_OK);

    /* sealed under another secret */
    assert_int_equal(np_wire_auth_setup("another-secret-that-nobody-shares-0123"), NP_ERR_OK);
    nng_msg *other = msg_of("x");
    assert_int_equal(np_wire_seal(other), NP_ERR_OK);
    assert_int_equal(np_wire_auth_setup("a-long-internal-secret-for-the-unit-test"), NP_ERR_OK);
    assert_int_equal(np_wire_open(g2, other), NP_ERR_UNAUTHORIZED);

    nng_msg_free(m);
    nng_msg_free(again);
    nng_msg_free(altered);
    nng_msg_free(bare);
    nng_msg_free(a);
    nng_msg_free(b);
    nng_msg_free(c);
    nng_msg_free(c2);
    nng_msg_free(other);
    np_wire_guard_free(g);
    np_wire_guard_free(g2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
