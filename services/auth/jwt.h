/* Session tokens: JSON Web Tokens signed with HMAC-SHA256 under a key derived from SECRET_KEY
 * (np_key_derive(secret, "jwt")). Verification accepts exactly one header algorithm, HS256,
 * so "none" and every other algorithm are refused before anything else is trusted. */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "np/buf.h"
#include "np/crypto.h"
#include "np/errors.h"

/* The longest token verified; anything longer is malformed. */
#define AUTH_JWT_MAX 2048
/* Clock skew tolerated for iat and nbf between instances, in seconds. */
#define AUTH_JWT_LEEWAY 30

typedef struct {
    int64_t uid; /* "sub", as a decimal string */
    int64_t ver; /* "tv": the user's token version when the token was issued */
    int64_t iat; /* issued at, Unix seconds */
    int64_t exp; /* expires at, Unix seconds */
} auth_claims;

/* auth_jwt_sign writes a signed token for c into out (header.payload.signature).
 * NP_ERR_NOMEM or NP_ERR_TOO_LARGE when out cannot hold it. */
np_err auth_jwt_sign(const uint8_t key[NP_KEY_LEN], const auth_claims *c, np_buf *out);

/* auth_jwt_verify checks a token's form, header (alg exactly HS256), signature, and times
 * against now (exp in the past, nbf or iat in the future: refused) and fills out.
 * NP_ERR_UNAUTHORIZED with a sentence in *why (static text) on any failure. */
np_err auth_jwt_verify(const uint8_t key[NP_KEY_LEN], const char *token, size_t len, int64_t now,
                       auth_claims *out, const char **why);

/* auth_jwt_looks_like tells whether a credential has a JWT's shape (three dot-separated
 * parts), so the caller can name the right error for a truncated token. */
bool auth_jwt_looks_like(const char *token, size_t len);

#endif
