/* Password hashing with argon2id through libargon2, and verification of the earlier Python
 * pool's passlib pbkdf2_sha256 hashes (brought over by naipool import, replaced by argon2id at
 * the first sign-in). */
#include "passwords.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "np/buf.h"
#include "np/crypto.h"

#define SALT_LEN 16
#define TAG_LEN 32

np_err
auth_password_hash(const char *pw, size_t len, char *out, size_t outlen)
{
    uint8_t salt[SALT_LEN];
    if (len > AUTH_PASSWORD_MAX_BYTES || outlen < AUTH_HASH_MAX) {
        return NP_ERR_INVALID;
    }
    np_err err = np_random_bytes(salt, sizeof(salt));
    if (err != NP_ERR_OK) {
        return err;
    }
    int rv = argon2id_hash_encoded(AUTH_ARGON2_T, AUTH_ARGON2_M_KIB, AUTH_ARGON2_P, pw, len, salt,
                                   sizeof(salt), TAG_LEN, out, outlen);
    np_wipe(salt, sizeof(salt));
    return rv == ARGON2_OK ? NP_ERR_OK : NP_ERR_CRYPTO;
}

#define PBKDF2_PREFIX "$pbkdf2-sha256$"
#define PBKDF2_ROUNDS_MIN 1000
#define PBKDF2_ROUNDS_MAX 1000000
#define PBKDF2_HASH_LEN 32

bool
auth_password_is_legacy(const char *encoded)
{
    return encoded != NULL && strncmp(encoded, PBKDF2_PREFIX, sizeof(PBKDF2_PREFIX) - 1) == 0;
}

/* ab64_decode reads passlib's "ab64" text (standard base64 with '.' for '+', no padding). */
static bool
ab64_decode(const char *in, size_t n, np_buf *out)
{
    char tmp[128];
    if (n == 0 || n >= sizeof(tmp)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '+' || in[i] == '-' || in[i] == '_') {
            return false; /* not of this alphabet */
        }
        tmp[i] = in[i] == '.' ? '+' : in[i];
    }
    return np_b64url_decode(tmp, n, out);
}

/* verify_pbkdf2 checks "$pbkdf2-sha256$ROUNDS$SALT$HASH". Rounds outside a sane range are
 * refused without running anything, so a tampered row cannot make a sign-in costly. */
static bool
verify_pbkdf2(const char *encoded, const char *pw, size_t len)
{
    const char *p = encoded + sizeof(PBKDF2_PREFIX) - 1;
    char *end = NULL;
    long rounds = strtol(p, &end, 10);
    if (end == p || *end != '$' || rounds < PBKDF2_ROUNDS_MIN || rounds > PBKDF2_ROUNDS_MAX) {
        return false;
    }
    const char *salt = end + 1;
    const char *dollar = strchr(salt, '$');
    if (dollar == NULL) {
        return false;
    }
    const char *hash = dollar + 1;
    np_buf s, h;
    np_buf_init(&s, 128);
    np_buf_init(&h, 128);
    uint8_t got[PBKDF2_HASH_LEN];
    bool ok = ab64_decode(salt, (size_t)(dollar - salt), &s) &&
              ab64_decode(hash, strlen(hash), &h) && h.len == PBKDF2_HASH_LEN &&
              PKCS5_PBKDF2_HMAC(pw, (int)len, (const unsigned char *)s.data, (int)s.len,
                                (int)rounds, EVP_sha256(), sizeof(got), got) == 1 &&
              CRYPTO_memcmp(got, h.data, sizeof(got)) == 0;
    np_wipe(got, sizeof(got));
    np_buf_fini(&s);
    np_buf_fini(&h);
    return ok;
}

bool
auth_password_verify(const char *encoded, const char *pw, size_t len)
{
    if (auth_password_is_legacy(encoded)) {
        return len <= AUTH_PASSWORD_MAX_BYTES && verify_pbkdf2(encoded, pw, len);
    }
    /* Only our own encoding is accepted: a stored hash asking for another algorithm or for
     * far more memory would be a sign of tampering, and verifying it could be costly. */
    static const char want[] = "$argon2id$v=19$m=19456,t=2,p=1$";
    if (encoded == NULL || strncmp(encoded, want, sizeof(want) - 1) != 0 ||
        len > AUTH_PASSWORD_MAX_BYTES) {
        return false;
    }
    return argon2id_verify(encoded, pw, len) == ARGON2_OK;
}
