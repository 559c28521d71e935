/* Tests for the pool instances behind POOL_RPC_URL coming and going. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <time.h>

#include "gateway.h"
#include "peers.h"

static void
test_instances_come_and_go(void **state)
{
    (void)state;
    static const np_cfg_table *const tables[] = {&gw_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[256] = "";
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    gw_peers p;
    memset(&p, 0, sizeof(p));
    np_rpc_opts opts = {0};
    assert_int_equal(
        gw_peers_open(&p, cfg, "inproc://peer-a,inproc://peer-b", &opts, why, sizeof(why)),
        NP_ERR_OK);
    assert_int_equal(gw_peers_count(&p), 2);
    /* round robin, and a retry avoids the instance that refused */
    gw_peer *x = gw_peers_get(&p, NULL);
    gw_peer *y = gw_peers_get(&p, x);
    assert_non_null(x);
    assert_ptr_not_equal(x, y);
    gw_peers_put(&p, y);
    /* the name now resolves to b and c: a is in use, so it stays until given back */
    snprintf(p.urls, sizeof(p.urls), "inproc://peer-b,inproc://peer-c");
    gw_peers_refresh(&p);
    assert_int_equal(gw_peers_count(&p), 3); /* x (peer-a, the first lent) is still held */
    gw_peers_put(&p, x);
    assert_int_equal(gw_peers_count(&p), 2); /* given back: closed and gone */
    for (int i = 0; i < 6; i++) {            /* the vanished one is never lent again */
        gw_peer *z = gw_peers_get(&p, NULL);
        assert_non_null(z);
        gw_peers_put(&p, z);
    }
    gw_peers_close(&p);
    np_config_free(cfg);
}

/* wait_pipes waits up to 5 s until the instance's client has want live connections. */
static bool
wait_pipes(gw_peer *peer, int want)
{
    for (int i = 0; i < 500; i++) {
        if (np_rpc_client_pipes(gw_peer_client(peer)) == want) {
            return true;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* listen_rep listens on 127.0.0.1:*port, or on a port the system picks when *port is 0 (a
 * fixed one may be some other connection's ephemeral port), and sets *port to it. */
static nng_socket
listen_rep(int *port)
{
    nng_socket s;
    nng_listener l;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", *port);
    assert_int_equal(nng_rep0_open(&s), 0);
    assert_int_equal(nng_listen(s, url, &l, 0), 0);
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, port), 0);
    return s;
}

/* An instance that died (no live connection) is not lent while another is connected, so no
 * request waits out a send timeout on it; it is lent again once its connection is back. */
static void
test_dead_instance_skipped(void **state)
{
    (void)state;
    static const np_cfg_table *const tables[] = {&gw_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[256] = "";
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    int port_a = 0;
    int port_b = 0;
    nng_socket a = listen_rep(&port_a);
    nng_socket b = listen_rep(&port_b);
    char urls[128];
    snprintf(urls, sizeof(urls), "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", port_a, port_b);
    gw_peers p;
    memset(&p, 0, sizeof(p));
    np_rpc_opts opts = {0};
    assert_int_equal(gw_peers_open(&p, cfg, urls, &opts, why, sizeof(why)), NP_ERR_OK);
    /* both dialled: until then neither is live, and a get may lend the one it should avoid */
    assert_int_equal(p.n, 2);
    assert_true(wait_pipes(p.list[0], 1) && wait_pipes(p.list[1], 1));
    gw_peer *pa = gw_peers_get(&p, NULL);
    gw_peer *pb = gw_peers_get(&p, pa);
    assert_ptr_not_equal(pa, pb);
    gw_peers_put(&p, pa);
    gw_peers_put(&p, pb);
    assert_true(wait_pipes(pa, 1) && wait_pipes(pb, 1));
    /* the instance behind the second listener dies */
    gw_peer *dead = NULL;
    nng_close(b);
    for (int i = 0; i < 500 && dead == NULL; i++) {
        if (np_rpc_client_pipes(gw_peer_client(pa)) == 0) {
            dead = pa;
        } else if (np_rpc_client_pipes(gw_peer_client(pb)) == 0) {
            dead = pb;
        } else {
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        }
    }
    assert_non_null(dead);
    for (int i = 0; i < 10; i++) { /* never lent while the other is connected, retry or not */
        gw_peer *z = gw_peers_get(&p, i % 2 ? NULL : (dead == pa ? pb : pa));
        assert_ptr_not_equal(z, dead);
        gw_peers_put(&p, z);
    }
    /* it comes back: lent again */
    b = listen_rep(&port_b); /* the same port again: the dialer retries it */
    assert_true(wait_pipes(dead, 1));
    bool seen = false;
    for (int i = 0; i < 4; i++) {
        gw_peer *z = gw_peers_get(&p, NULL);
        seen = seen || z == dead;
        gw_peers_put(&p, z);
    }
    assert_true(seen);
    gw_peers_close(&p);
    nng_close(a);
    nng_close(b);
    np_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_instances_come_and_go),
                                       cmocka_unit_test(test_dead_instance_skipped)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
