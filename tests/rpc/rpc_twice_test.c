/* A second answer to one rpc call in a release build: the rep server is compiled here with
 * NDEBUG (as release builds are), its handler answers every call twice, and the test checks
 * that the client gets the first answer, the service keeps answering, and nothing aborts.
 * Debug and test builds abort on the second answer instead (shared/src/rpc_server.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "np/rpc.h"

#ifndef NDEBUG
#error "this test checks the release behaviour: build it with NDEBUG"
#endif

static void
answer_twice(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    (void)arg;
    (void)op;
    (void)req;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_str(&w, "n", "first");
    np_rpc_reply(call, &w);
    np_rpc_reply(call, &w); /* the programmer error under test */
    np_wire_writer_fini(&w);
}

static void
test_second_answer_is_dropped(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "ipc:///tmp/np-rpc-twice-%d.ipc", (int)getpid());
    np_rpc_server *srv;
    np_rpc_opts opts = {.contexts = 2, .workers = 1};
    assert_int_equal(np_rpc_server_open(&srv, url, &opts, answer_twice, NULL), NP_ERR_OK);
    np_rpc_client *c;
    assert_int_equal(np_rpc_client_open(&c, url, NULL), NP_ERR_OK);
    for (int i = 0; i < 5; i++) {
        np_wire_writer w;
        np_wire_writer_init(&w);
        np_wire_begin(&w, 1);
        np_wire_str(&w, "op", "ping");
        nng_msg *reply = NULL;
        assert_int_equal(np_rpc_client_call(c, &w, 5000, &reply), NP_ERR_OK);
        np_wire_msg m;
        assert_int_equal(np_wire_parse(&m, nng_msg_body(reply), nng_msg_len(reply)), NP_ERR_OK);
        char n[16];
        assert_true(np_wire_get_cstr(m.root, "n", n, sizeof(n)));
        assert_string_equal(n, "first");
        np_wire_msg_fini(&m);
        nng_msg_free(reply);
        np_wire_writer_fini(&w);
    }
    np_rpc_client_close(c);
    np_rpc_server_close(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_answer_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
