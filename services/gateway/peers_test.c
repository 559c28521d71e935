/* Tests for the pool instances behind POOL_RPC_URL coming and going. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"
#include "peers.h"

static void
test_instances_come_and_go(void **state)
{
    (void)state;
    static const np_cfg_spec *const tables[] = {gw_config, NULL};
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

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_instances_come_and_go)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
