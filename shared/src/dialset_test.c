/* Tests for dialing every instance behind a name: address expansion, and a req socket that
 * spreads its requests over every instance a list names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "np/dialset.h"
#include "np/rpc.h"
#include "np_test_pipes.h"

static void
test_expand(void **state)
{
    (void)state;
    char out[512];
    assert_true(np_addr_expand("tcp://127.0.0.1:7102", out, sizeof(out)));
    assert_string_equal(out, "tcp://127.0.0.1:7102");
    assert_true(np_addr_expand("inproc://naipool-pool", out, sizeof(out)));
    assert_string_equal(out, "inproc://naipool-pool");
    assert_true(np_addr_expand("tcp://127.0.0.1:1,tcp://127.0.0.2:2", out, sizeof(out)));
    assert_string_equal(out, "tcp://127.0.0.1:1,tcp://127.0.0.2:2");
    /* a name stands for every address it resolves to (localhost: from /etc/hosts) */
    assert_true(np_addr_expand("tcp://localhost:7102", out, sizeof(out)));
    assert_string_equal(out, "tcp://127.0.0.1:7102");
    assert_false(np_addr_expand("tcp://127.0.0.1:7102", out, 8)); /* does not fit */
}

static void
ignore(void *arg, np_err err, nng_msg *reply)
{
    (void)arg;
    (void)err;
    nng_msg_free(reply);
}

static void
test_requests_reach_every_instance(void **state)
{
    (void)state;
    char a[128], b[128], both[300];
    snprintf(a, sizeof(a), "ipc:///tmp/np-dialset-test-%d-a.ipc", (int)getpid());
    snprintf(b, sizeof(b), "ipc:///tmp/np-dialset-test-%d-b.ipc", (int)getpid());
    snprintf(both, sizeof(both), "%s,%s", a, b);
    nng_socket sa, sb;
    assert_int_equal(nng_rep0_open(&sa), 0);
    assert_int_equal(nng_rep0_open(&sb), 0);
    assert_int_equal(nng_listen(sa, a, NULL, 0), 0);
    assert_int_equal(nng_listen(sb, b, NULL, 0), 0);
    nng_socket_set_ms(sa, NNG_OPT_RECVTIMEO, 100);
    nng_socket_set_ms(sb, NNG_OPT_RECVTIMEO, 100);
    atomic_int pipes_up = 0;
    assert_int_equal(np_test_count_pipes(sa, &pipes_up), 0);
    assert_int_equal(np_test_count_pipes(sb, &pipes_up), 0);
    np_rpc_client *c;
    assert_int_equal(np_rpc_client_open(&c, both, NULL), NP_ERR_OK);
    /* both instances connected (bounded), so the spread is not a race with the dials */
    assert_true(np_test_wait_pipes(&pipes_up, 2));
    int seen_a = 0, seen_b = 0;
    for (int i = 0; i < 8; i++) {
        np_wire_writer w;
        np_wire_writer_init(&w);
        np_wire_begin(&w, 1);
        np_wire_str(&w, "op", "ping");
        np_rpc_client_call_async(c, &w, 2000, ignore, NULL);
        np_wire_writer_fini(&w);
        nng_msg *m;
        if (nng_recvmsg(sa, &m, 0) == 0) {
            seen_a++;
            nng_msg_free(m);
        } else if (nng_recvmsg(sb, &m, 0) == 0) {
            seen_b++;
            nng_msg_free(m);
        }
    }
    assert_true(seen_a > 0 && seen_b > 0);
    np_rpc_client_close(c);
    nng_close(sa);
    nng_close(sb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expand),
                                       cmocka_unit_test(test_requests_reach_every_instance)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
