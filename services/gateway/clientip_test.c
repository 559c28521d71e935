/* Unit tests for the client address: CIDR lists and the X-Forwarded-For walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clientip.h"

static const char *const trusted = "127.0.0.0/8,::1/128,10.0.0.0/8,192.168.0.0/16,fc00::/7";

static void
test_ip_in_list(void **state)
{
    (void)state;
    assert_true(gw_ip_in_list("127.0.0.1", trusted));
    assert_true(gw_ip_in_list("10.255.1.2", trusted));
    assert_true(gw_ip_in_list("::1", trusted));
    assert_true(gw_ip_in_list("fd12::5", trusted));
    assert_false(gw_ip_in_list("11.0.0.1", trusted));
    assert_false(gw_ip_in_list("192.169.0.1", trusted));
    assert_false(gw_ip_in_list("2001:db8::1", trusted));
    assert_false(gw_ip_in_list("not-an-ip", trusted));
    assert_false(gw_ip_in_list("127.0.0.1", NULL));
    assert_false(gw_ip_in_list("127.0.0.1", ""));
    assert_true(gw_ip_in_list("203.0.113.7", " 203.0.113.7 , 10.0.0.0/8"));
    /* an IPv4 address never matches an IPv6 network and the reverse */
    assert_false(gw_ip_in_list("::ffff:11.0.0.1", "11.0.0.0/8"));
    /* a prefix that is not 1 to 3 digits is no network, not /0 */
    assert_false(gw_ip_in_list("11.0.0.1", "10.0.0.0/"));
    assert_false(gw_ip_in_list("11.0.0.1", "10.0.0.0/0x"));
    assert_false(gw_ip_in_list("10.0.0.1", "10.0.0.0/ 8"));
    assert_false(gw_ip_in_list("10.0.0.1", "10.0.0.0/0008"));
    assert_false(gw_ip_in_list("10.0.0.1", "10.0.0.0/33"));
    assert_true(gw_ip_in_list("11.0.0.1", "10.0.0.0/0"));
    assert_true(gw_ip_in_list("10.0.0.1", "10.0.0.0/8,"));
}

static void
pick(const char *peer, const char *xff, const char *want, bool from_header)
{
    char out[64];
    bool got = gw_client_ip_pick(peer, xff, xff ? strlen(xff) : 0, trusted, out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(got, from_header);
}

static void
test_right_most_untrusted(void **state)
{
    (void)state;
    /* client, then our two proxies */
    pick("10.0.0.2", "203.0.113.7, 10.0.0.9", "203.0.113.7", true);
    /* a client-supplied (spoofed) left part is ignored: the right-most untrusted wins */
    pick("10.0.0.2", "1.1.1.1, 198.51.100.4, 10.0.0.9", "198.51.100.4", true);
    pick("127.0.0.1", "198.51.100.4", "198.51.100.4", true);
    pick("::1", "2001:db8::7", "2001:db8::7", true);
    pick("10.0.0.2", "  198.51.100.4\t,10.1.1.1 ", "198.51.100.4", true);
}

static void
test_untrusted_peer_ignores_header(void **state)
{
    (void)state;
    pick("198.51.100.4", "1.2.3.4", "198.51.100.4", false);
    pick("2001:db8::1", "1.2.3.4", "2001:db8::1", false);
}

static void
test_garbage_and_all_trusted(void **state)
{
    (void)state;
    /* garbage stops the walk; the last good untrusted-or-trusted entry to its right counts */
    pick("10.0.0.2", "evil, 10.0.0.9", "10.0.0.9", true);
    pick("10.0.0.2", "198.51.100.4, garbage", "10.0.0.2", false);
    pick("10.0.0.2", "", "10.0.0.2", false);
    pick("10.0.0.2", NULL, "10.0.0.2", false);
    pick("10.0.0.2", ",,,", "10.0.0.2", false);
    /* only proxies: the left-most proxy is the best we know */
    pick("10.0.0.2", "10.0.0.5, 10.0.0.9", "10.0.0.5", true);
    /* an over-long entry is garbage, not a crash */
    char big[300];
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pick("10.0.0.2", big, "10.0.0.2", false);
}

static void
test_default_is_loopback_only(void **state)
{
    (void)state;
    assert_true(gw_ip_in_list("127.0.0.1", GW_TRUSTED_PROXIES_DEFAULT));
    assert_true(gw_ip_in_list("::1", GW_TRUSTED_PROXIES_DEFAULT));
    assert_false(gw_ip_in_list("10.1.2.3", GW_TRUSTED_PROXIES_DEFAULT));
    assert_false(gw_ip_in_list("192.168.1.1", GW_TRUSTED_PROXIES_DEFAULT));
    assert_false(gw_ip_in_list("172.16.0.1", GW_TRUSTED_PROXIES_DEFAULT));
    assert_false(gw_ip_in_list("fd00::1", GW_TRUSTED_PROXIES_DEFAULT));
    /* a neighbour on a private network writing the header is not believed */
    char out[64];
    const char *xff = "203.0.113.9";
    assert_false(gw_client_ip_pick("10.0.0.5", xff, strlen(xff), GW_TRUSTED_PROXIES_DEFAULT, out,
                                   sizeof(out)));
    assert_string_equal(out, "10.0.0.5");
}

static void
test_hops(void **state)
{
    (void)state;
    char out[64];
    const char *xff = "1.1.1.1, 203.0.113.7 ,10.0.0.2";
    assert_true(gw_client_ip_pick_hops("10.0.0.1", xff, strlen(xff), 1, out, sizeof(out)));
    assert_string_equal(out, "10.0.0.2");
    assert_true(gw_client_ip_pick_hops("10.0.0.1", xff, strlen(xff), 2, out, sizeof(out)));
    assert_string_equal(out, "203.0.113.7");
    assert_true(gw_client_ip_pick_hops("10.0.0.1", xff, strlen(xff), 3, out, sizeof(out)));
    assert_string_equal(out, "1.1.1.1");
    /* fewer entries than hops, or garbage at the hop: the peer */
    assert_false(gw_client_ip_pick_hops("10.0.0.1", xff, strlen(xff), 4, out, sizeof(out)));
    assert_string_equal(out, "10.0.0.1");
    const char *bad = "nonsense, 10.0.0.2";
    assert_false(gw_client_ip_pick_hops("10.0.0.1", bad, strlen(bad), 2, out, sizeof(out)));
    assert_string_equal(out, "10.0.0.1");
    assert_false(gw_client_ip_pick_hops("10.0.0.1", NULL, 0, 1, out, sizeof(out)));
    assert_string_equal(out, "10.0.0.1");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_in_list),
        cmocka_unit_test(test_default_is_loopback_only),
        cmocka_unit_test(test_hops),
        cmocka_unit_test(test_right_most_untrusted),
        cmocka_unit_test(test_untrusted_peer_ignores_header),
        cmocka_unit_test(test_garbage_and_all_trusted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
