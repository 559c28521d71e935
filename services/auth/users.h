/* Accounts: the rules for usernames and passwords, and the rows of the users table. Every
 * function taking a PGconn blocks on the database (rpc or hashing threads only). */
#ifndef AUTH_USERS_H
#define AUTH_USERS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"
#include "passwords.h"

#define AUTH_USERNAME_MIN 3
#define AUTH_USERNAME_MAX 32

typedef struct {
    int64_t id;
    char username[AUTH_USERNAME_MAX + 1];
    char role[8]; /* "user" or "admin" */
    bool disabled;
    int64_t token_version;
    int64_t rpm_override; /* -1: none */
    char password_hash[AUTH_HASH_MAX];
    char created_at[32]; /* ISO 8601, UTC */
} auth_user;

/* auth_username_check: 3-32 characters of [A-Za-z0-9_.-]; false with a sentence in why. */
bool auth_username_check(const char *name, size_t len, char *why, size_t whylen);
/* auth_username_lower writes the lower-case form (usernames are ASCII) into out. */
void auth_username_lower(const char *name, char *out, size_t outlen);
/* auth_password_check: at least minlen characters (code points), at most
 * AUTH_PASSWORD_MAX_BYTES bytes, and not the username (ignoring case); false with a
 * sentence in why. pw is valid UTF-8 (the JSON parser checked it). */
bool auth_password_check(const char *pw, size_t len, const char *username, int64_t minlen,
                         char *why, size_t whylen);

/* The column list every read below returns, in auth_user order. */
#define AUTH_USER_COLUMNS                                                                          \
    "id, username, role, disabled, token_version, coalesce(rpm_override, -1), password_hash, "     \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* auth_user_from_row fills u from row i of a result selected with AUTH_USER_COLUMNS;
 * NP_ERR_DB when a cell is not what the columns promise. */
np_err auth_user_from_row(const PGresult *res, int i, auth_user *u);
/* auth_user_by_name finds a user by name, ignoring case; NP_ERR_NOT_FOUND, NP_ERR_DB. */
np_err auth_user_by_name(PGconn *c, const char *name, auth_user *out);
/* auth_user_by_id finds a user by id; NP_ERR_NOT_FOUND, NP_ERR_DB. */
np_err auth_user_by_id(PGconn *c, int64_t id, auth_user *out);
/* auth_user_insert creates a user with an optional e-mail (NULL: none); NP_ERR_CONFLICT when
 * the name or the e-mail is taken (any case). */
np_err auth_user_insert(PGconn *c, const char *name, const char *email, const char *hash,
                        const char *role, auth_user *out);
/* auth_email_taken: NP_ERR_CONFLICT when an account holds this e-mail (any case), else
 * NP_ERR_OK; NP_ERR_DB. */
np_err auth_email_taken(PGconn *c, const char *email);
/* auth_email_check: an optional e-mail given at sign-up, 3-254 bytes of printable ASCII with
 * no space, one '@' with text on both sides; false with a sentence in why. */
bool auth_email_check(const char *email, size_t len, char *why, size_t whylen);
/* auth_user_set_password stores a new hash and bumps token_version, which ends every
 * session issued before; NP_ERR_NOT_FOUND when the user is gone. */
np_err auth_user_set_password(PGconn *c, int64_t id, const char *hash);
/* auth_user_upgrade_hash replaces old_hash by new_hash (same password, a better hash) without
 * ending sessions; a no-op when the stored hash is no longer old_hash. NP_ERR_DB. */
np_err auth_user_upgrade_hash(PGconn *c, int64_t id, const char *old_hash, const char *new_hash);

#endif
