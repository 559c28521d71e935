/* Tests for np_rpc over real NNG sockets: a round trip, a fast failure with no peer, the
 * rule that a request whose connection breaks is failed and never re-sent to the next peer
 * (NNG 1.5 would re-send it, running it twice), and a server context that drops unauthenticated
 * requests and still serves the next one. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "np/rpc.h"
#include "np/wire_mac.h"
#include "np_test_pipes.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    np_err err;
} outcome;

static void
on_done(void *arg, np_err err, nng_msg *reply)
{
    outcome *o = arg;
    nng_msg_free(reply);
    pthread_mutex_lock(&o->mu);
    o->done = true;
    o->err = err;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static np_err
wait_outcome(outcome *o)
{
    pthread_mutex_lock(&o->mu);
    while (!o->done) {
        pthread_cond_wait(&o->cv, &o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return o->err;
}

static void
url_for(char *out, size_t n, const char *what)
{
    snprintf(out, n, "ipc:///tmp/np-rpc-test-%d-%s.ipc", (int)getpid(), what);
}

static atomic_int pipes_up; /* connections the servers accepted */

static nng_socket
server(const char *url)
{
    nng_socket s;
    assert_int_equal(nng_rep0_open(&s), 0);
    assert_int_equal(np_test_count_pipes(s, &pipes_up), 0);
    assert_int_equal(nng_listen(s, url, NULL, 0), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
    return s;
}

static void
request(np_wire_writer *w)
{
    np_wire_writer_init(w);
    np_wire_begin(w, 1);
    np_wire_str(w, "op", "ping");
}

static void
test_round_trip(void **state)
{
    (void)state;
    char url[128];
    url_for(url, sizeof(url), "rt");
    nng_socket srv = server(url);
    np_rpc_client *c;
    assert_int_equal(np_rpc_client_open(&c, url, NULL), NP_ERR_OK);
    np_wire_writer w;
    request(&w);
    outcome o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NP_ERR_OK};
    assert_int_equal(np_rpc_client_call_async(c, &w, 5000, on_done, &o), NP_ERR_OK);
    nng_msg *m;
    assert_int_equal(nng_recvmsg(srv, &m, 0), 0);
    assert_int_equal(nng_sendmsg(srv, m, 0), 0); /* echo */
    assert_int_equal(wait_outcome(&o), NP_ERR_OK);
    np_wire_writer_fini(&w);
    np_rpc_client_close(c);
    nng_close(srv);
}

static void
test_no_peer_fails_fast_as_unavailable(void **state)
{
    (void)state;
    char url[128];
    url_for(url, sizeof(url), "none");
    np_rpc_client *c;
    np_rpc_opts opts = {.send_timeout_ms = 200};
    assert_int_equal(np_rpc_client_open(&c, url, &opts), NP_ERR_OK);
    np_wire_writer w;
    request(&w);
    nng_msg *reply = NULL;
    assert_int_equal(np_rpc_client_call(c, &w, 5000, &reply), NP_ERR_UNAVAILABLE);
    np_wire_writer_fini(&w);
    np_rpc_client_close(c);
}

static void
test_broken_connection_fails_and_is_not_resent(void **state)
{
    (void)state;
    char url[128];
    url_for(url, sizeof(url), "lost");
    nng_socket srv = server(url);
    np_rpc_client *c;
    assert_int_equal(np_rpc_client_open(&c, url, NULL), NP_ERR_OK);
    np_wire_writer w;
    request(&w);
    outcome o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NP_ERR_OK};
    assert_int_equal(np_rpc_client_call_async(c, &w, 30000, on_done, &o), NP_ERR_OK);
    nng_msg *m;
    assert_int_equal(nng_recvmsg(srv, &m, 0), 0); /* the peer has it, and dies unanswered */
    nng_msg_free(m);
    nng_close(srv);
    assert_int_equal(wait_outcome(&o), NP_ERR_PEER_LOST);
    /* a new peer at the same address must not receive the request again */
    srv = server(url);
    nng_socket_set_ms(srv, NNG_OPT_RECVTIMEO, 1500);
    assert_int_equal(nng_recvmsg(srv, &m, 0), NNG_ETIMEDOUT);
    np_wire_writer_fini(&w);
    np_rpc_client_close(c);
    nng_close(srv);
}

static void
test_broken_connection_is_not_resent_to_another_peer(void **state)
{
    (void)state;
    char a[128], b[128], both[300];
    url_for(a, sizeof(a), "peer-a");
    url_for(b, sizeof(b), "peer-b");
    snprintf(both, sizeof(both), "%s,%s", a, b);
    atomic_store(&pipes_up, 0);
    nng_socket sa = server(a), sb = server(b);
    np_rpc_client *c;
    assert_int_equal(np_rpc_client_open(&c, both, NULL), NP_ERR_OK);
    assert_true(np_test_wait_pipes(
        &pipes_up, 2)); /* both connections up: the other peer could take a re-send */
    np_wire_writer w;
    request(&w);
    outcome o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NP_ERR_OK};
    assert_int_equal(np_rpc_client_call_async(c, &w, 30000, on_done, &o), NP_ERR_OK);
    /* whichever peer got it dies unanswered; the other must never see it */
    nng_socket_set_ms(sa, NNG_OPT_RECVTIMEO, 2000);
    nng_msg *m;
    nng_socket got = sa, other = sb;
    if (nng_recvmsg(sa, &m, 0) != 0) {
        got = sb;
        other = sa;
        assert_int_equal(nng_recvmsg(sb, &m, 0), 0);
    }
    nng_msg_free(m);
    nng_close(got);
    assert_int_equal(wait_outcome(&o), NP_ERR_PEER_LOST);
    nng_socket_set_ms(other, NNG_OPT_RECVTIMEO, 1500);
    assert_int_equal(nng_recvmsg(other, &m, 0), NNG_ETIMEDOUT);
    np_wire_writer_fini(&w);
    np_rpc_client_close(c);
    nng_close(other);
}

static void
on_call_echo_op(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    (void)arg;
    (void)req;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_str(&w, "op", op);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

/* send_ping sends {op: ping} on a raw req socket, sealed or not, and returns nng_recvmsg's
 * result (the answer freed). */
static int
send_ping(nng_socket req, bool sealed)
{
    np_wire_writer w;
    request(&w);
    nng_msg *m;
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, w.sbuf.data, w.sbuf.size), 0);
    np_wire_writer_fini(&w);
    if (sealed) {
        assert_int_equal(np_wire_seal(m), NP_ERR_OK);
    }
    assert_int_equal(nng_sendmsg(req, m, 0), 0);
    int rv = nng_recvmsg(req, &m, 0);
    if (rv == 0) {
        nng_msg_free(m);
    }
    return rv;
}

/* Runs last: it turns message authentication on for the whole process. One context, so every
 * request after a drop needs that context's receive restarted (from its own aio completion). */
static void
test_server_drops_unauthenticated_and_serves_the_next(void **state)
{
    (void)state;
    assert_int_equal(np_wire_auth_setup("rpc-test-internal-secret-0123456789abcdef"), NP_ERR_OK);
    char url[128];
    url_for(url, sizeof(url), "guard");
    np_rpc_opts opts = {.contexts = 1, .workers = 1};
    np_rpc_server *srv;
    assert_int_equal(np_rpc_server_open(&srv, url, &opts, on_call_echo_op, NULL), NP_ERR_OK);
    nng_socket req;
    assert_int_equal(nng_req0_open(&req), 0);
    assert_int_equal(nng_dial(req, url, NULL, 0), 0);
    nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 300);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(send_ping(req, false), NNG_ETIMEDOUT);
        nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 5000);
        assert_int_equal(send_ping(req, true), 0);
        nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 300);
    }
    assert_int_equal(np_rpc_server_dropped(srv), 3);
    nng_close(req);
    np_rpc_server_close(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_no_peer_fails_fast_as_unavailable),
        cmocka_unit_test(test_broken_connection_fails_and_is_not_resent),
        cmocka_unit_test(test_broken_connection_is_not_resent_to_another_peer),
        cmocka_unit_test(test_server_drops_unauthenticated_and_serves_the_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
