/* Accounts: username and password rules, and users rows. */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "np/db.h"

bool
auth_username_check(const char *name, size_t len, char *why, size_t whylen)
{
    if (len < AUTH_USERNAME_MIN || len > AUTH_USERNAME_MAX) {
        snprintf(why, whylen, "'username' must be %d to %d characters long", AUTH_USERNAME_MIN,
                 AUTH_USERNAME_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-')) {
            snprintf(why, whylen, "'username' may hold only letters A-Z, digits, '_', '.' and '-'");
            return false;
        }
    }
    return true;
}

void
auth_username_lower(const char *name, char *out, size_t outlen)
{
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < outlen; i++) {
        char c = name[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out[i] = '\0';
}

bool
auth_password_check(const char *pw, size_t len, const char *username, int64_t minlen, char *why,
                    size_t whylen)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        chars += ((unsigned char)pw[i] & 0xC0) != 0x80; /* count UTF-8 lead bytes */
    }
    if ((int64_t)chars < minlen) {
        snprintf(why, whylen, "the password must be at least %lld characters long",
                 (long long)minlen);
        return false;
    }
    if (len > AUTH_PASSWORD_MAX_BYTES) {
        snprintf(why, whylen, "the password must be at most %d bytes long",
                 AUTH_PASSWORD_MAX_BYTES);
        return false;
    }
    if (username != NULL && strlen(username) == len && strncasecmp(pw, username, len) == 0) {
        snprintf(why, whylen, "the password must not be the username");
        return false;
    }
    return true;
}

np_err
auth_user_from_row(const PGresult *res, int i, auth_user *u)
{
    memset(u, 0, sizeof(*u));
    np_db_row row = np_db_row_at(res, i);
    u->id = np_db_int(&row, 0);
    snprintf(u->username, sizeof(u->username), "%s", PQgetvalue(res, i, 1));
    snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(res, i, 2));
    u->disabled = np_db_bool(&row, 3);
    u->token_version = np_db_int(&row, 4);
    u->rpm_override = np_db_int(&row, 5);
    snprintf(u->password_hash, sizeof(u->password_hash), "%s", PQgetvalue(res, i, 6));
    snprintf(u->created_at, sizeof(u->created_at), "%s", PQgetvalue(res, i, 7));
    return row.err;
}

static np_err
one_user(PGconn *c, const char *sql, const char *param, auth_user *out)
{
    PGresult *res = NULL;
    const char *params[] = {param};
    np_err err = np_db_exec(c, sql, 1, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) != 1) {
        err = NP_ERR_NOT_FOUND;
    }
    if (err == NP_ERR_OK) {
        err = auth_user_from_row(res, 0, out);
    }
    PQclear(res);
    return err;
}

np_err
auth_user_by_name(PGconn *c, const char *name, auth_user *out)
{
    return one_user(c, "SELECT " AUTH_USER_COLUMNS " FROM users WHERE lower(username) = lower($1)",
                    name, out);
}

np_err
auth_user_by_id(PGconn *c, int64_t id, auth_user *out)
{
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    return one_user(c, "SELECT " AUTH_USER_COLUMNS " FROM users WHERE id = $1", idtext, out);
}

np_err
auth_user_insert(PGconn *c, const char *name, const char *email, const char *hash, const char *role,
                 auth_user *out)
{
    PGresult *res = NULL;
    const char *params[] = {name, hash, role, email};
    np_err err = np_db_exec(c,
                            "INSERT INTO users (username, password_hash, role, email) "
                            "VALUES ($1, $2, $3, $4) RETURNING " AUTH_USER_COLUMNS,
                            4, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        err = auth_user_from_row(res, 0, out);
    } else if (err == NP_ERR_OK) {
        err = NP_ERR_DB;
    }
    PQclear(res);
    return err;
}

np_err
auth_user_set_password(PGconn *c, int64_t id, const char *hash)
{
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    const char *params[] = {idtext, hash};
    PGresult *res = NULL;
    np_err err = np_db_exec(c,
                            "UPDATE users SET password_hash = $2, "
                            "token_version = token_version + 1 WHERE id = $1",
                            2, params, &res);
    if (err == NP_ERR_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        err = NP_ERR_NOT_FOUND;
    }
    PQclear(res);
    return err;
}

np_err
auth_user_upgrade_hash(PGconn *c, int64_t id, const char *old_hash, const char *new_hash)
{
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    const char *params[] = {idtext, old_hash, new_hash};
    return np_db_exec(c, "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                      3, params, NULL);
}

np_err
auth_email_taken(PGconn *c, const char *email)
{
    PGresult *res = NULL;
    const char *params[] = {email};
    np_err err =
        np_db_exec(c, "SELECT 1 FROM users WHERE lower(email) = lower($1)", 1, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) > 0) {
        err = NP_ERR_CONFLICT;
    }
    PQclear(res);
    return err;
}

bool
auth_email_check(const char *email, size_t len, char *why, size_t whylen)
{
    const char *at = memchr(email, '@', len);
    bool ok = len >= 3 && len <= 254 && at != NULL && at != email && at != email + len - 1 &&
              memchr(at + 1, '@', len - (size_t)(at + 1 - email)) == NULL;
    for (size_t i = 0; ok && i < len; i++) {
        ok = email[i] > ' ' && email[i] < 0x7f;
    }
    if (!ok) {
        snprintf(why, whylen,
                 "email must look like name@example.org (3-254 characters, no "
                 "spaces)");
    }
    return ok;
}
