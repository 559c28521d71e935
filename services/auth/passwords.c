/* Password hashing with argon2id through libargon2. */
#include "passwords.h"

#include <argon2.h>
#include <string.h>

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

bool
auth_password_verify(const char *encoded, const char *pw, size_t len)
{
    /* Only our own encoding is accepted: a stored hash asking for another algorithm or for
     * far more memory would be a sign of tampering, and verifying it could be costly. */
    static const char want[] = "$argon2id$v=19$m=19456,t=2,p=1$";
    if (encoded == NULL || strncmp(encoded, want, sizeof(want) - 1) != 0 ||
        len > AUTH_PASSWORD_MAX_BYTES) {
        return false;
    }
    return argon2id_verify(encoded, pw, len) == ARGON2_OK;
}
