/* Tests for the crypto helpers: AEAD round trip and tamper detection, HMAC vectors, base64url,
 * tokens, constant-time compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "np/crypto.h"

static void
test_aead_round_trip_and_tamper(void **state)
{
    (void)state;
    uint8_t key[NP_KEY_LEN], other[NP_KEY_LEN];
    np_random_bytes(key, sizeof(key));
    np_random_bytes(other, sizeof(other));
    const char *pt = "pst-abcdefghijklmnopqrstuvwxyz0123456789";
    np_buf sealed, out;
    np_buf_init(&sealed, 0);
    np_buf_init(&out, 0);
    assert_int_equal(np_aead_seal(key, "42", 2, pt, strlen(pt), &sealed), NP_ERR_OK);
    assert_int_equal(sealed.len, NP_GCM_NONCE_LEN + strlen(pt) + NP_GCM_TAG_LEN);
    assert_null(memmem(sealed.data, sealed.len, "pst-", 4));
    assert_int_equal(np_aead_open(key, "42", 2, sealed.data, sealed.len, &out), NP_ERR_OK);
    assert_int_equal(out.len, strlen(pt));
    assert_memory_equal(out.data, pt, out.len);

    /* another row id, another key, a flipped bit anywhere: all refused */
    np_buf_reset(&out);
    assert_int_equal(np_aead_open(key, "43", 2, sealed.data, sealed.len, &out), NP_ERR_CRYPTO);
    assert_int_equal(np_aead_open(other, "42", 2, sealed.data, sealed.len, &out), NP_ERR_CRYPTO);
    for (size_t i = 0; i < sealed.len; i += 7) {
        sealed.data[i] ^= 1;
        assert_int_equal(np_aead_open(key, "42", 2, sealed.data, sealed.len, &out), NP_ERR_CRYPTO);
        sealed.data[i] ^= 1;
    }
    assert_int_equal(np_aead_open(key, "42", 2, sealed.data, 10, &out), NP_ERR_CRYPTO);

    /* two seals of the same text differ (fresh nonce) */
    np_buf again;
    np_buf_init(&again, 0);
    np_aead_seal(key, "42", 2, pt, strlen(pt), &again);
    assert_memory_not_equal(again.data, sealed.data, sealed.len);
    np_buf_fini(&again);
    np_buf_fini(&sealed);
    np_buf_fini(&out);
}

static void
test_hmac_vector(void **state)
{
    (void)state;
    /* RFC 4231 test case 2 */
    uint8_t mac[32];
    char hex[65];
    np_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    np_hex(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t a[32], b[32];
    np_key_derive("secret", 6, "jwt", a);
    np_key_derive("secret", 6, "relay-key", b);
    assert_memory_not_equal(a, b, 32);
}

static void
test_base64url(void **state)
{
    (void)state;
    const char *vectors[][2] = {{"", ""},        {"f", "Zg"},        {"fo", "Zm8"},
                                {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"\xfb\xff", "-_8"}};
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        np_buf enc, dec;
        np_buf_init(&enc, 0);
        np_buf_init(&dec, 0);
        np_b64url_encode(vectors[i][0], strlen(vectors[i][0]), &enc);
        assert_string_equal(enc.data, vectors[i][1]);
        assert_true(np_b64url_decode(enc.data, enc.len, &dec));
        assert_int_equal(dec.len, strlen(vectors[i][0]));
        np_buf_fini(&enc);
        np_buf_fini(&dec);
    }
    np_buf dec;
    np_buf_init(&dec, 0);
    assert_true(np_b64url_decode("Zm9vYg==", 8, &dec)); /* padding accepted */
    np_buf_reset(&dec);
    assert_false(np_b64url_decode("Zm9v!g", 6, &dec));
    assert_false(np_b64url_decode("Z", 1, &dec));
    assert_false(np_b64url_decode("Zh", 2, &dec)); /* non-zero leftover bits */
    np_buf_fini(&dec);
    uint8_t key[32];
    assert_true(np_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", key));
    assert_int_equal(key[31], 31);
    assert_true(np_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", key));
    assert_false(np_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg", key));
}

static void
test_tokens_and_compare(void **state)
{
    (void)state;
    char a[80], b[80];
    assert_int_equal(np_token_new("np-", 192, a, sizeof(a)), NP_ERR_OK);
    assert_int_equal(np_token_new("np-", 192, b, sizeof(b)), NP_ERR_OK);
    assert_int_equal(strncmp(a, "np-", 3), 0);
    assert_true(strlen(a) - 3 >= 33); /* 33 base62 characters carry > 192 bits */
    assert_string_not_equal(a, b);
    for (size_t i = 3; i < strlen(a); i++) {
        assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'z') ||
                    (a[i] >= 'A' && a[i] <= 'Z'));
    }
    assert_true(np_ct_equal("abc", "abc", 3));
    assert_false(np_ct_equal("abc", "abd", 3));
    assert_int_equal(np_token_new("np-", 192, a, 10), NP_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aead_round_trip_and_tamper),
        cmocka_unit_test(test_hmac_vector),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_tokens_and_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
