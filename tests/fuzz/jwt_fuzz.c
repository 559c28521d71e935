/* Fuzz target for the session-token parser (services/auth/jwt.c). The first byte chooses:
 * odd, the rest is a token verified as it is (form, header, base64url, signature); even, the
 * rest is split at its first NUL into a header and a payload that are base64url-encoded and
 * signed with the key, so the claims reader behind the signature check is reached too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/auth/jwt.h"
#include "fuzz.h"
#include "np/buf.h"
#include "np/crypto.h"

static const uint8_t key[NP_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void
verify(const char *token, size_t len)
{
    auth_claims c;
    const char *why = NULL;
    if (auth_jwt_verify(key, token, len, 1700000000, &c, &why) == NP_ERR_OK && c.uid <= 0) {
        abort(); /* a verified token names a user */
    }
    (void)auth_jwt_looks_like(token, len);
}

static void
signed_token(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *payload = nul ? nul + 1 : data + size;
    size_t plen = nul ? size - hlen - 1 : 0;
    np_buf t, p;
    np_buf_init(&t, 0);
    np_buf_init(&p, 0);
    if (np_b64url_encode(data, hlen, &t) == NP_ERR_OK && np_buf_append(&t, ".", 1) == NP_ERR_OK &&
        np_b64url_encode(payload, plen, &p) == NP_ERR_OK &&
        np_buf_append(&t, p.data ? p.data : "", p.len) == NP_ERR_OK) {
        uint8_t mac[NP_HMAC_LEN];
        np_hmac_sha256(key, sizeof(key), t.data, t.len, mac);
        np_buf_reset(&p);
        if (np_b64url_encode(mac, sizeof(mac), &p) == NP_ERR_OK &&
            np_buf_append(&t, ".", 1) == NP_ERR_OK &&
            np_buf_append(&t, p.data, p.len) == NP_ERR_OK) {
            verify(t.data, t.len);
        }
    }
    np_buf_fini(&t);
    np_buf_fini(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096) {
        return 0;
    }
    if (data[0] & 1) {
        verify((const char *)data + 1, size - 1);
    } else {
        signed_token(data + 1, size - 1);
    }
    return 0;
}
