/* Contributed keys at rest: the upstream_keys table. Tokens are sealed with AES-256-GCM under
 * ENCRYPTION_KEY with the row id as associated data, found again by an HMAC fingerprint, and
 * shown only masked. Every function runs blocking SQL: rpc worker threads only. */
#ifndef POOL_KEYSTORE_H
#define POOL_KEYSTORE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/crypto.h"
#include "np/errors.h"
#include "probe.h"

typedef struct {
    const char *note;
    bool allow_paid;
    int64_t max_anlas; /* -1: no cap */
    int64_t floor;
    int64_t max_keys; /* keys one user (not an admin) may contribute; 0: no cap */
} pool_key_settings;

/* The optional fields of a PATCH; a field is applied when its has_ flag is set. */
typedef struct {
    bool has_note, has_enabled, has_allow_paid, has_max, has_floor;
    const char *note;
    bool enabled, allow_paid;
    int64_t max_anlas; /* -1: clear the cap */
    int64_t floor;
} pool_key_patch;

/* pool_keystore_fp_key derives the fingerprint key from ENCRYPTION_KEY (fingerprint version
 * 2: the pool needs no SECRET_KEY). */
void pool_keystore_fp_key(const uint8_t enc_key[NP_KEY_LEN], uint8_t fp_key[NP_KEY_LEN]);

/* pool_keystore_fingerprint: HMAC-SHA256 of the token under fp_key. */
void pool_keystore_fingerprint(const uint8_t fp_key[NP_KEY_LEN], const char *token, size_t n,
                               uint8_t out[NP_HMAC_LEN]);

/* pool_keystore_exists sets *exists when any key has this fingerprint. NP_ERR_DB. */
np_err pool_keystore_exists(PGconn *c, const uint8_t fp[NP_HMAC_LEN], bool *exists);

/* pool_keystore_refingerprint gives every row whose fingerprint is still of version 1 (under
 * SECRET_KEY) its version-2 fingerprint under fp_key, decrypting its token with enc_key, in
 * one transaction; rows are locked, so instances starting together do the work once. *n
 * receives the rows changed. A row that cannot be decrypted is logged and left as it is.
 * NP_ERR_DB. */
np_err pool_keystore_refingerprint(PGconn *c, const uint8_t enc_key[NP_KEY_LEN],
                                   const uint8_t fp_key[NP_KEY_LEN], int64_t *n);

/* pool_keystore_take_upload counts one upload attempt of owner against per_hour (admins and
 * per_hour 0: no limit). NP_ERR_RATE_LIMITED, the attempt not counted, when per_hour attempts
 * were made in the last hour; *retry_s then holds the seconds until the oldest ages out. The
 * owner's row is locked, so parallel uploads cannot pass the count together. NP_ERR_DB. */
np_err pool_keystore_take_upload(PGconn *c, int64_t owner, int64_t per_hour, int64_t *retry_s);

/* pool_keystore_precheck: NP_ERR_LIMIT when a user (not an admin) already holds max_keys keys
 * (0: no cap). Before the probe, so none is spent on an upload that would be refused; and in
 * pool_keystore_add again, under the owner's row lock, where it is the cap that holds. NP_ERR_DB.
 */
np_err pool_keystore_precheck(PGconn *c, int64_t owner, int64_t max_keys);

/* pool_keystore_reserve_id takes the next key id from the table's sequence, so the key's
 * egress proxy is known before its row exists (the upload probe leaves through it). */
np_err pool_keystore_reserve_id(PGconn *c, int64_t *id);

/* pool_keystore_add inserts the key as row id (pool_keystore_reserve_id) in one transaction:
 * the row first, then the token sealed with the row's id as associated data. NP_ERR_CONFLICT
 * when the fingerprint is taken, NP_ERR_LIMIT when a user already holds set->max_keys keys
 * (the owner's row is locked first, so parallel adds cannot pass the count together). */
np_err pool_keystore_add(PGconn *c, const uint8_t enc_key[NP_KEY_LEN], int64_t owner,
                         const char *token, size_t n, const uint8_t fp[NP_HMAC_LEN],
                         const pool_key_settings *set, const pool_probe_result *probe, int64_t id);

/* pool_keystore_seal / _open: the at-rest format (nonce | ciphertext | tag, AAD = the id as
 * 8 big-endian bytes). _open writes the token NUL-terminated; NP_ERR_CRYPTO on tampering. */
np_err pool_keystore_seal(const uint8_t enc_key[NP_KEY_LEN], int64_t id, const char *token,
                          size_t n, np_buf *out);
np_err pool_keystore_open(const uint8_t enc_key[NP_KEY_LEN], int64_t id, const void *sealed,
                          size_t n, char *token, size_t tlen);

/* pool_keystore_get / _list answer keys as JSON (the caller owns *out). owner 0 means any
 * owner (admins); admin adds owner_id, owner and disabled_by. NP_ERR_NOT_FOUND, NP_ERR_DB. */
np_err pool_keystore_get(PGconn *c, int64_t id, int64_t owner, bool admin, json_t **out);
np_err pool_keystore_list(PGconn *c, int64_t owner, bool admin, json_t **out);

/* pool_keystore_patch applies p to key id (of owner, or any owner when owner is 0; by_admin
 * decides who disabled it). *from and *to receive the visible state before and after.
 * NP_ERR_NOT_FOUND; NP_ERR_FORBIDDEN when an owner re-enables a key an admin disabled. */
np_err pool_keystore_patch(PGconn *c, int64_t id, int64_t owner, bool by_admin,
                           const pool_key_patch *p, char *from, char *to, size_t statelen);

/* pool_keystore_delete deletes the row (ciphertext and all) of owner's key. NP_ERR_NOT_FOUND. */
np_err pool_keystore_delete(PGconn *c, int64_t id, int64_t owner);

/* pool_keystore_counts: a user's contributed and healthy (active or cooling, enabled) keys. */
np_err pool_keystore_counts(PGconn *c, int64_t owner, int64_t *contributed, int64_t *healthy);

#endif
