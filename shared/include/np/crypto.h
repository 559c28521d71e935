/* Cryptographic helpers over OpenSSL: AES-256-GCM with associated data, HMAC-SHA256, key
 * derivation, random tokens, base64url, hex and constant-time comparison. */
#ifndef NP_CRYPTO_H
#define NP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/buf.h"
#include "np/errors.h"

#define NP_KEY_LEN 32
#define NP_GCM_NONCE_LEN 12
#define NP_GCM_TAG_LEN 16
#define NP_HMAC_LEN 32

/* np_random_bytes fills out with n bytes from the OS CSPRNG. */
np_err np_random_bytes(void *out, size_t n);

/* np_hmac_sha256 computes HMAC-SHA256(key, msg) into out (32 bytes). */
void np_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    uint8_t out[NP_HMAC_LEN]);
void np_sha256(const void *msg, size_t mlen, uint8_t out[32]);

/* np_key_derive derives a 32-byte subkey for one purpose ("jwt", "relay-key") from a
 * secret: HMAC-SHA256(secret, "naipool:" label). Different labels give unrelated keys. */
void np_key_derive(const void *secret, size_t slen, const char *label, uint8_t out[NP_KEY_LEN]);

/* np_aead_seal encrypts pt under key with AES-256-GCM and a fresh random nonce; aad is
 * authenticated but not stored. out receives nonce | ciphertext | tag. */
np_err np_aead_seal(const uint8_t key[NP_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                    size_t ptlen, np_buf *out);
/* np_aead_open reverses np_aead_seal; NP_ERR_CRYPTO when the data or aad were tampered. */
np_err np_aead_open(const uint8_t key[NP_KEY_LEN], const void *aad, size_t aadlen,
                    const void *sealed, size_t sealedlen, np_buf *out);

/* np_ct_equal compares in time independent of the contents. */
bool np_ct_equal(const void *a, const void *b, size_t n);

/* base64url without padding. np_b64url_decode also accepts padding and the standard
 * alphabet's '+' and '/'; returns false on any other character or a bad length. */
np_err np_b64url_encode(const void *in, size_t n, np_buf *out);
bool np_b64url_decode(const char *in, size_t n, np_buf *out);
/* np_b64_encode: standard alphabet with padding (for NovelAI-shaped JSON). */
np_err np_b64_encode(const void *in, size_t n, np_buf *out);

/* np_hex writes 2n lowercase hex digits and a NUL into out (2n+1 bytes). */
void np_hex(const void *in, size_t n, char *out);

/* np_token_new writes prefix followed by base62 text carrying at least bits of entropy. */
np_err np_token_new(const char *prefix, int bits, char *out, size_t outlen);

/* np_wipe clears memory in a way the compiler does not remove. */
void np_wipe(void *p, size_t n);

/* np_key_parse decodes an ENCRYPTION_KEY (base64url of exactly 32 bytes, padding optional). */
bool np_key_parse(const char *text, uint8_t out[NP_KEY_LEN]);

#endif
