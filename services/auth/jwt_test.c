/* Unit tests for HS256 session tokens: every way a token may be forged or stale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/hmac.h>

#include "jwt.h"

static const uint8_t key[NP_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const int64_t now = 1700000000;

/* craft builds header.payload.signature from JSON texts, signing with HMAC-SHA256 under k
 * (or with HMAC-SHA512 when sha512 is set); sig NULL means "sign", "" means no signature. */
static void
craft(const char *header, const char *payload, const uint8_t *k, bool sha512, const char *sig,
      char *out, size_t outlen)
{
    np_buf b;
    np_buf_init(&b, 0);
    np_b64url_encode(header, strlen(header), &b);
    np_buf_puts(&b, ".");
    np_b64url_encode(payload, strlen(payload), &b);
    np_buf_puts(&b, ".");
    if (sig != NULL) {
        np_buf_puts(&b, sig);
    } else {
        uint8_t mac[64];
        unsigned int mlen = 0;
        HMAC(sha512 ? EVP_sha512() : EVP_sha256(), k, NP_KEY_LEN, (const uint8_t *)b.data,
             b.len - 1, mac, &mlen);
        np_b64url_encode(mac, mlen, &b);
    }
    snprintf(out, outlen, "%s", b.data);
    np_buf_fini(&b);
}

static np_err
verify(const char *tok, auth_claims *c)
{
    const char *why = NULL;
    np_err err = auth_jwt_verify(key, tok, strlen(tok), now, c, &why);
    if (err != NP_ERR_OK) {
        assert_non_null(why);
    }
    return err;
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char good[] = "{\"sub\":\"42\",\"tv\":3,\"iat\":1699999000,\"exp\":1700003600}";

static void
test_round_trip(void **state)
{
    (void)state;
    auth_claims in = {.uid = 42, .ver = 7, .iat = now, .exp = now + 60}, out = {0};
    np_buf b;
    np_buf_init(&b, 0);
    assert_int_equal(auth_jwt_sign(key, &in, &b), NP_ERR_OK);
    assert_int_equal(verify(b.data, &out), NP_ERR_OK);
    assert_int_equal(out.uid, 42);
    assert_int_equal(out.ver, 7);
    assert_int_equal(out.exp, now + 60);
    assert_true(auth_jwt_looks_like(b.data, b.len));
    np_buf_fini(&b);
}

static void
test_crafted_good_token_accepted(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft(hs256, good, key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_OK);
    assert_int_equal(c.uid, 42);
    craft("{\"alg\":\"HS256\"}", good, key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_OK);
}

static void
test_tampered_payload(void **state)
{
    (void)state;
    char tok[1024], other[1024];
    auth_claims c;
    craft(hs256, good, key, false, NULL, tok, sizeof(tok));
    craft(hs256, "{\"sub\":\"1\",\"tv\":3,\"iat\":1699999000,\"exp\":1700003600}", key, false, NULL,
          other, sizeof(other));
    /* the payload of one with the signature of the other */
    char *sig = strrchr(tok, '.');
    char *osig = strrchr(other, '.');
    snprintf(osig, sizeof(other) - (size_t)(osig - other), "%s", sig);
    assert_int_equal(verify(other, &c), NP_ERR_UNAUTHORIZED);
}

static void
test_tampered_signature(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft(hs256, good, key, false, NULL, tok, sizeof(tok));
    size_t n = strlen(tok);
    tok[n - 3] = tok[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    /* a signature made with another key */
    uint8_t other[NP_KEY_LEN];
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    craft(hs256, good, other, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    /* a truncated signature */
    craft(hs256, good, key, false, NULL, tok, sizeof(tok));
    tok[strlen(tok) - 4] = '\0';
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
}

static void
test_alg_none(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", good, key, false, "", tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft("{\"alg\":\"none\"}", good, key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft("{\"alg\":\"hs256\"}", good, key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
}

static void
test_alg_hs512(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good, key, true, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    /* the same header with an HS256 signature is still refused: the header decides */
    craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good, key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    /* extra header fields (kid, jku, crit) are refused */
    craft("{\"alg\":\"HS256\",\"kid\":\"x\"}", good, key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
}

static void
test_expired(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft(hs256, "{\"sub\":\"42\",\"tv\":0,\"iat\":1690000000,\"exp\":1699999999}", key, false,
          NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft(hs256, "{\"sub\":\"42\",\"tv\":0,\"iat\":1690000000,\"exp\":1700000000}", key, false,
          NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    /* no exp at all */
    craft(hs256, "{\"sub\":\"42\",\"tv\":0,\"iat\":1690000000}", key, false, NULL, tok,
          sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
}

static void
test_not_yet_valid(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft(hs256, "{\"sub\":\"42\",\"tv\":0,\"nbf\":1700003600,\"exp\":1700007200}", key, false,
          NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft(hs256, "{\"sub\":\"42\",\"tv\":0,\"iat\":1700003600,\"exp\":1700007200}", key, false,
          NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    /* within the leeway is fine */
    craft(hs256, "{\"sub\":\"42\",\"tv\":0,\"iat\":1700000010,\"exp\":1700007200}", key, false,
          NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_OK);
}

static void
test_malformed(void **state)
{
    (void)state;
    char tok[1024];
    auth_claims c;
    craft(hs256, good, key, false, NULL, tok, sizeof(tok));
    char *last = strrchr(tok, '.');
    *last = '\0'; /* header.payload only */
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    assert_int_equal(verify("", &c), NP_ERR_UNAUTHORIZED);
    assert_int_equal(verify("a.b.c.d", &c), NP_ERR_UNAUTHORIZED);
    assert_int_equal(verify("...", &c), NP_ERR_UNAUTHORIZED);
    assert_int_equal(verify("eyJhbGciOiJIUzI1NiJ9", &c), NP_ERR_UNAUTHORIZED);
    /* wrong claim types, a non-numeric subject, padding */
    craft(hs256, "{\"sub\":42,\"tv\":0,\"exp\":1700003600}", key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft(hs256, "{\"sub\":\"4x\",\"tv\":0,\"exp\":1700003600}", key, false, NULL, tok,
          sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft(hs256, "{\"sub\":\"42\",\"tv\":\"0\",\"exp\":1700003600}", key, false, NULL, tok,
          sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft(hs256, "[1]", key, false, NULL, tok, sizeof(tok));
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    craft(hs256, good, key, false, NULL, tok, sizeof(tok));
    size_t n = strlen(tok);
    snprintf(tok + n, sizeof(tok) - n, "=");
    assert_int_equal(verify(tok, &c), NP_ERR_UNAUTHORIZED);
    char big[AUTH_JWT_MAX + 8];
    memset(big, 'e', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(verify(big, &c), NP_ERR_UNAUTHORIZED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_crafted_good_token_accepted),
        cmocka_unit_test(test_tampered_payload), cmocka_unit_test(test_tampered_signature),
        cmocka_unit_test(test_alg_none),         cmocka_unit_test(test_alg_hs512),
        cmocka_unit_test(test_expired),          cmocka_unit_test(test_not_yet_valid),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
