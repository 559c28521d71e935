/* Relay keys: what clients put in "Authorization: Bearer np-...". A key is "np-" followed by
 * base62 text carrying 192 bits of randomness; the database keeps only its HMAC-SHA256 under
 * a key derived from SECRET_KEY ("relay-key") and a short prefix for display, so the full key
 * exists only in the creation answer. This module makes and hashes keys and answers the
 * /client-keys routes. */
#ifndef AUTH_RELAYKEYS_H
#define AUTH_RELAYKEYS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/crypto.h"
#include "np/errors.h"
#include "np/httpop.h"
#include "service.h"

#define AUTH_RELAYKEY_BITS 192
#define AUTH_RELAYKEY_MAX 80   /* room for a key and its NUL */
#define AUTH_RELAYKEY_PREFIX 9 /* "np-" and six characters are kept for display */
#define AUTH_RELAYKEY_NAME_MAX 64

/* auth_relaykey_new writes a fresh key into key and its display prefix into prefix. */
np_err auth_relaykey_new(char key[AUTH_RELAYKEY_MAX], char prefix[AUTH_RELAYKEY_PREFIX + 1]);
/* auth_relaykey_well_formed: "np-" and 32 to 64 base62 characters, or '-' and '_' (the
 * earlier Python pool's keys, "np-" and 43 URL-safe base64 characters, come in by import). */
bool auth_relaykey_well_formed(const char *cred, size_t len);
/* auth_relaykey_hash computes HMAC-SHA256(hkey, cred) and writes it as a bytea literal
 * ("\\x" and 64 hex digits) into out (67 bytes), ready as an SQL parameter. */
void auth_relaykey_hash(const uint8_t hkey[NP_KEY_LEN], const char *cred, size_t len, char out[67]);

/* auth_relaykeys_revoke_all deletes every relay key of user uid and sets *n to how many
 * there were. NP_ERR_NOT_FOUND when there is no such user, NP_ERR_DB. */
np_err auth_relaykeys_revoke_all(PGconn *c, int64_t uid, int64_t *n);

/* auth_relaykeys_http answers POST/GET /client-keys and PATCH/DELETE /client-keys/{id} for
 * the signed-in user of r (handlers run on rpc workers). */
void auth_relaykeys_http(auth_service *s, np_rpc_call *call, const np_http_req *r);

#endif
