/* HS256 JSON Web Tokens. */
#include "jwt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char header_b64[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; /* {"alg":"HS256","typ":"JWT"} */

np_err
auth_jwt_sign(const uint8_t key[NP_KEY_LEN], const auth_claims *c, np_buf *out)
{
    char payload[256];
    int n = snprintf(payload, sizeof(payload),
                     "{\"sub\":\"%lld\",\"tv\":%lld,\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
                     (long long)c->uid, (long long)c->ver, (long long)c->iat, (long long)c->iat,
                     (long long)c->exp);
    if (n < 0 || (size_t)n >= sizeof(payload)) {
        return NP_ERR_INVALID;
    }
    np_err err = np_buf_puts(out, header_b64);
    if (err == NP_ERR_OK) {
        err = np_buf_puts(out, ".");
    }
    if (err == NP_ERR_OK) {
        err = np_b64url_encode(payload, (size_t)n, out);
    }
    uint8_t mac[NP_HMAC_LEN];
    if (err == NP_ERR_OK) {
        np_hmac_sha256(key, NP_KEY_LEN, out->data, out->len, mac);
        err = np_buf_puts(out, ".");
    }
    if (err == NP_ERR_OK) {
        err = np_b64url_encode(mac, sizeof(mac), out);
    }
    np_wipe(mac, sizeof(mac));
    return err;
}

bool
auth_jwt_looks_like(const char *token, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len; i++) {
        dots += token[i] == '.';
    }
    return dots >= 1 && len > 0 && token[0] == 'e';
}

/* b64url_part checks that a part holds only the URL-safe alphabet (no padding, no '+' or
 * '/': a token is text we issued, so any other spelling is not ours) and decodes it. */
static bool
b64url_part(const char *p, size_t n, np_buf *out)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return np_b64url_decode(p, n, out);
}

static json_t *
json_part(const char *p, size_t n)
{
    np_buf b;
    np_buf_init(&b, AUTH_JWT_MAX);
    json_t *j = NULL;
    if (b64url_part(p, n, &b) && b.len > 0) {
        j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    }
    np_buf_fini(&b);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool
header_ok(const char *p, size_t n)
{
    json_t *h = json_part(p, n);
    if (h == NULL) {
        return false;
    }
    bool ok = json_object_size(h) <= 2;
    json_t *alg = json_object_get(h, "alg");
    json_t *typ = json_object_get(h, "typ");
    ok = ok && json_is_string(alg) && strcmp(json_string_value(alg), "HS256") == 0;
    ok = ok && (typ == NULL || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0));
    ok = ok && json_object_size(h) == 1u + (typ != NULL);
    json_decref(h);
    return ok;
}

static bool
int_claim(const json_t *obj, const char *key, bool required, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return !required;
    }
    if (!json_is_integer(v)) {
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool
sub_claim(const json_t *obj, int64_t *uid)
{
    json_t *v = json_object_get(obj, "sub");
    if (!json_is_string(v)) {
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n == 0 || n > 18 || s[0] == '0') {
        return false;
    }
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        x = x * 10 + (s[i] - '0');
    }
    *uid = x;
    return true;
}

np_err
auth_jwt_verify(const uint8_t key[NP_KEY_LEN], const char *token, size_t len, int64_t now,
                auth_claims *out, const char **why)
{
    *why = "the session token is malformed";
    if (len == 0 || len > AUTH_JWT_MAX) {
        return NP_ERR_UNAUTHORIZED;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        return NP_ERR_UNAUTHORIZED;
    }
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);

    /* 1. The header: exactly HS256, decided before the signature is looked at. */
    if (!header_ok(token, hlen)) {
        *why = "the session token's header is not HS256";
        return NP_ERR_UNAUTHORIZED;
    }
    /* 2. The signature over "header.payload", compared in constant time. */
    np_err err = NP_ERR_UNAUTHORIZED;
    np_buf sig;
    np_buf_init(&sig, 64);
    uint8_t mac[NP_HMAC_LEN];
    np_hmac_sha256(key, NP_KEY_LEN, token, (size_t)(d2 - token), mac);
    if (!b64url_part(d2 + 1, slen, &sig) || sig.len != NP_HMAC_LEN ||
        !np_ct_equal(sig.data, mac, NP_HMAC_LEN)) {
        *why = "the session token's signature is not valid";
        goto done;
    }
    /* 3. The claims, now that they are known to be ours. */
    json_t *p = json_part(d1 + 1, plen);
    auth_claims c = {0};
    int64_t nbf = 0;
    bool ok = p != NULL && sub_claim(p, &c.uid) && int_claim(p, "tv", true, &c.ver) &&
              int_claim(p, "exp", true, &c.exp) && int_claim(p, "iat", false, &c.iat) &&
              int_claim(p, "nbf", false, &nbf) && c.ver >= 0;
    json_decref(p);
    if (!ok) {
        goto done;
    }
    if (c.exp <= now) {
        *why = "the session token has expired; sign in again";
        goto done;
    }
    if (nbf > now + AUTH_JWT_LEEWAY || c.iat > now + AUTH_JWT_LEEWAY) {
        *why = "the session token is not valid yet";
        goto done;
    }
    *out = c;
    *why = NULL;
    err = NP_ERR_OK;
done:
    np_wipe(mac, sizeof(mac));
    np_buf_fini(&sig);
    return err;
}
