/* Unit tests for relay-key making and hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relaykeys.h"

static void
test_new_key_shape(void **state)
{
    (void)state;
    char key[AUTH_RELAYKEY_MAX], prefix[AUTH_RELAYKEY_PREFIX + 1], other[AUTH_RELAYKEY_MAX];
    assert_int_equal(auth_relaykey_new(key, prefix), NP_ERR_OK);
    assert_int_equal(strncmp(key, "np-", 3), 0);
    /* 192 bits in base62 need at least 33 characters (33 * log2(62) > 192) */
    assert_true(strlen(key) >= 3 + 33);
    assert_true(auth_relaykey_well_formed(key, strlen(key)));
    assert_int_equal(strlen(prefix), AUTH_RELAYKEY_PREFIX);
    assert_int_equal(strncmp(prefix, key, AUTH_RELAYKEY_PREFIX), 0);
    assert_int_equal(auth_relaykey_new(other, prefix), NP_ERR_OK);
    assert_string_not_equal(key, other);
}

static void
test_well_formed(void **state)
{
    (void)state;
    const char *good = "np-0123456789abcdefghijABCDEFGHIJ0123";
    assert_true(auth_relaykey_well_formed(good, strlen(good)));
    assert_false(auth_relaykey_well_formed("np-short", 8));
    assert_false(auth_relaykey_well_formed("pk-0123456789abcdefghijABCDEFGHIJ0123", 37));
    assert_false(auth_relaykey_well_formed("np-0123456789abcdefghijABCDEFGHIJ012!", 37));
    assert_false(auth_relaykey_well_formed("np-0123456789abcdefghijABCDEFGHIJ012=", 37));
    /* an earlier pool's key: URL-safe base64 of 32 bytes */
    assert_true(auth_relaykey_well_formed("np-Ab_d-fghij0123456789klmnopqrstuvwxyzABCDEFG", 46));
    assert_false(auth_relaykey_well_formed(good, strlen(good) - 3)); /* truncated */
}

static void
test_hash(void **state)
{
    (void)state;
    uint8_t k1[NP_KEY_LEN], k2[NP_KEY_LEN];
    np_key_derive("a secret that is long enough for this test", 42, "relay-key", k1);
    np_key_derive("a secret that is long enough for this test", 42, "jwt", k2);
    assert_memory_not_equal(k1, k2, NP_KEY_LEN);
    const char *key = "np-0123456789abcdefghijABCDEFGHIJ0123";
    char h1[67], h2[67], h3[67], h4[67];
    auth_relaykey_hash(k1, key, strlen(key), h1);
    auth_relaykey_hash(k1, key, strlen(key), h2);
    auth_relaykey_hash(k2, key, strlen(key), h3);
    auth_relaykey_hash(k1, key, strlen(key) - 1, h4);
    assert_string_equal(h1, h2);     /* stable: lookups work */
    assert_string_not_equal(h1, h3); /* keyed: another secret gives another hash */
    assert_string_not_equal(h1, h4);
    assert_int_equal(strlen(h1), 66);
    assert_int_equal(strncmp(h1, "\\x", 2), 0);
    assert_null(strstr(h1, "0123456789abcdefghij")); /* the key itself is not in the hash */
    /* HMAC-SHA256 with a known key and message (RFC 4231 test case 2's message) */
    uint8_t jefe[NP_KEY_LEN] = "Jefe";
    memset(jefe + 4, 0, NP_KEY_LEN - 4);
    char h5[67];
    auth_relaykey_hash(jefe, "what do ya want for nothing?", 28, h5);
    assert_string_equal(h5, "\\x5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_key_shape),
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
