/* Cryptographic helpers over OpenSSL. */
#include "np/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

np_err
np_random_bytes(void *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? NP_ERR_OK : NP_ERR_CRYPTO;
}

void
np_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[NP_HMAC_LEN])
{
    unsigned int len = NP_HMAC_LEN;
    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len);
}

void
np_sha256(const void *msg, size_t mlen, uint8_t out[32])
{
    SHA256(msg, mlen, out);
}

void
np_key_derive(const void *secret, size_t slen, const char *label, uint8_t out[NP_KEY_LEN])
{
    char info[128];
    int n = snprintf(info, sizeof(info), "naipool:%s", label);
    np_hmac_sha256(secret, slen, info, (size_t)n, out);
}

void
np_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

np_err
np_aead_seal(const uint8_t key[NP_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
             size_t ptlen, np_buf *out)
{
    np_err err = np_buf_reserve(out, NP_GCM_NONCE_LEN + ptlen + NP_GCM_TAG_LEN);
    if (err != NP_ERR_OK) {
        return err;
    }
    uint8_t *nonce = (uint8_t *)out->data + out->len;
    uint8_t *ct = nonce + NP_GCM_NONCE_LEN;
    if (np_random_bytes(nonce, NP_GCM_NONCE_LEN) != NP_ERR_OK) {
        return NP_ERR_CRYPTO;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, ok = ctx != NULL;
    ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1;
    ok = ok && (aadlen == 0 || EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) == 1);
    ok = ok && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)ptlen) == 1;
    ok = ok && EVP_EncryptFinal_ex(ctx, ct + len, &len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, NP_GCM_TAG_LEN, ct + ptlen) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        return NP_ERR_CRYPTO;
    }
    out->len += NP_GCM_NONCE_LEN + ptlen + NP_GCM_TAG_LEN;
    out->data[out->len] = '\0';
    return NP_ERR_OK;
}

np_err
np_aead_open(const uint8_t key[NP_KEY_LEN], const void *aad, size_t aadlen, const void *sealed,
             size_t sealedlen, np_buf *out)
{
    if (sealedlen < NP_GCM_NONCE_LEN + NP_GCM_TAG_LEN) {
        return NP_ERR_CRYPTO;
    }
    size_t ctlen = sealedlen - NP_GCM_NONCE_LEN - NP_GCM_TAG_LEN;
    np_err err = np_buf_reserve(out, ctlen);
    if (err != NP_ERR_OK) {
        return err;
    }
    const uint8_t *nonce = sealed;
    const uint8_t *ct = nonce + NP_GCM_NONCE_LEN;
    uint8_t tag[NP_GCM_TAG_LEN];
    memcpy(tag, ct + ctlen, NP_GCM_TAG_LEN);
    uint8_t *pt = (uint8_t *)out->data + out->len;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, ok = ctx != NULL;
    ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1;
    ok = ok && (aadlen == 0 || EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) == 1);
    ok = ok && EVP_DecryptUpdate(ctx, pt, &len, ct, (int)ctlen) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, NP_GCM_TAG_LEN, tag) == 1;
    ok = ok && EVP_DecryptFinal_ex(ctx, pt + len, &len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        np_wipe(pt, ctlen);
        return NP_ERR_CRYPTO;
    }
    out->len += ctlen;
    out->data[out->len] = '\0';
    return NP_ERR_OK;
}

bool
np_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static np_err
b64_encode(const void *in, size_t n, np_buf *out, const char *alpha, bool pad)
{
    const uint8_t *p = in;
    np_err err = np_buf_reserve(out, (n + 2) / 3 * 4);
    for (size_t i = 0; err == NP_ERR_OK && i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        char q[4] = {alpha[(v >> 18) & 63], alpha[(v >> 12) & 63], alpha[(v >> 6) & 63],
                     alpha[v & 63]};
        size_t keep = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        if (pad) {
            for (size_t k = keep; k < 4; k++) {
                q[k] = '=';
            }
            keep = 4;
        }
        err = np_buf_append(out, q, keep);
    }
    if (err == NP_ERR_OK) {
        err = np_buf_append(out, "", 0); /* NUL-terminates, also for empty input */
    }
    return err;
}

np_err
np_b64url_encode(const void *in, size_t n, np_buf *out)
{
    return b64_encode(in, n, out,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);
}

np_err
np_b64_encode(const void *in, size_t n, np_buf *out)
{
    return b64_encode(in, n, out,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
}

static int
b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-' || c == '+') {
        return 62;
    }
    if (c == '_' || c == '/') {
        return 63;
    }
    return -1;
}

bool
np_b64url_decode(const char *in, size_t n, np_buf *out)
{
    while (n > 0 && in[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1) {
        return false;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            return false;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            uint8_t byte = (uint8_t)(acc >> bits);
            if (np_buf_append(out, &byte, 1) != NP_ERR_OK) {
                return false;
            }
        }
    }
    /* leftover bits must be zero, so every text has exactly one decoding */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return false;
    }
    if (out->data == NULL) {
        np_buf_append(out, "", 0);
    }
    return true;
}

void
np_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

np_err
np_token_new(const char *prefix, int bits, char *out, size_t outlen)
{
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    /* Each base62 character carries log2(62) ~ 5.95 bits; rejection sampling keeps it
     * uniform. */
    size_t chars = (size_t)(bits * 100 + 594) / 595;
    size_t plen = strlen(prefix);
    if (plen + chars + 1 > outlen) {
        return NP_ERR_INVALID;
    }
    memcpy(out, prefix, plen);
    size_t i = 0;
    while (i < chars) {
        uint8_t r[64];
        if (np_random_bytes(r, sizeof(r)) != NP_ERR_OK) {
            return NP_ERR_CRYPTO;
        }
        for (size_t k = 0; k < sizeof(r) && i < chars; k++) {
            if (r[k] < 248) { /* 248 = 4 * 62 */
                out[plen + i++] = alpha[r[k] % 62];
            }
        }
        np_wipe(r, sizeof(r));
    }
    out[plen + chars] = '\0';
    return NP_ERR_OK;
}

bool
np_key_parse(const char *text, uint8_t out[NP_KEY_LEN])
{
    np_buf b;
    np_buf_init(&b, 64);
    bool ok = np_b64url_decode(text, strlen(text), &b) && b.len == NP_KEY_LEN;
    if (ok) {
        memcpy(out, b.data, NP_KEY_LEN);
    }
    if (b.data != NULL) {
        np_wipe(b.data, b.len);
    }
    np_buf_fini(&b);
    return ok;
}
