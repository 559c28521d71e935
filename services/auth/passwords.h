/* Password hashing with argon2id (t=2, m=19 MiB, p=1). Hashing costs about 50 ms and 19 MiB,
 * so callers run it on the service's hashing pool (workpool.h), never on an NNG callback. */
#ifndef AUTH_PASSWORDS_H
#define AUTH_PASSWORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "np/errors.h"

#define AUTH_ARGON2_T 2
#define AUTH_ARGON2_M_KIB (19 * 1024)
#define AUTH_ARGON2_P 1
/* Room for an encoded argon2id hash with these parameters, a 16-byte salt and a 32-byte tag. */
#define AUTH_HASH_MAX 128
/* The longest password accepted, in bytes. */
#define AUTH_PASSWORD_MAX_BYTES 256

/* auth_password_hash hashes the len bytes of pw with a fresh random salt and writes the
 * encoded form ("$argon2id$v=19$m=19456,t=2,p=1$...") into out. NP_ERR_CRYPTO when argon2
 * fails (e.g. out of memory), NP_ERR_INVALID when len is out of range. */
np_err auth_password_hash(const char *pw, size_t len, char *out, size_t outlen);

/* auth_password_verify tells whether pw matches the encoded hash: our argon2id encoding, or
 * the earlier Python pool's "$pbkdf2-sha256$ROUNDS$SALT$HASH" (passlib, ab64 alphabet) that
 * naipool import brings over. False for a malformed or foreign hash or any other failure.
 * Runs in about the time of one hash. */
bool auth_password_verify(const char *encoded, const char *pw, size_t len);

/* auth_password_is_legacy: the hash is the earlier pool's pbkdf2_sha256 form, to be replaced
 * by an argon2id hash once the password has been verified. */
bool auth_password_is_legacy(const char *encoded);

#endif
