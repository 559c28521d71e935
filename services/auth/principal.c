/* The "authenticate" operation. */
#include "principal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt.h"
#include "np/db.h"
#include "relaykeys.h"
#include "request.h"
#include "users.h"

static void
reply_principal(np_rpc_call *call, int64_t uid, const char *role, int64_t kid)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3);
    np_wire_int(&w, "uid", uid);
    np_wire_str(&w, "role", role);
    np_wire_int(&w, "kid", kid);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

#define RELAY_KEY_SELECT                                                                           \
    "SELECT k.id, k.enabled, u.id, u.role, u.disabled FROM relay_keys k "                          \
    "JOIN users u ON u.id = k.user_id "

/* upgrade_legacy looks a key up by the sha256 the earlier Python pool stored (naipool import
 * brings such rows with legacy_sha256 set and no key_hash). On a hit the row gets the key's
 * HMAC like any other key and loses its sha256, so the legacy form is used at most once. */
static np_err
upgrade_legacy(PGconn *c, const char *hash, const char *cred, size_t len, PGresult **res)
{
    uint8_t sum[32];
    char sha[67] = "\\x";
    np_sha256(cred, len, sum);
    np_hex(sum, sizeof(sum), sha + 2);
    const char *params[] = {hash, sha};
    np_err err = np_db_exec(c,
                            "WITH k AS (UPDATE relay_keys SET key_hash = $1::bytea, "
                            "legacy_sha256 = NULL WHERE legacy_sha256 = $2::bytea "
                            "RETURNING id, enabled, user_id) "
                            "SELECT k.id, k.enabled, u.id, u.role, u.disabled FROM k "
                            "JOIN users u ON u.id = k.user_id",
                            2, params, res);
    np_wipe(sum, sizeof(sum));
    return err;
}

static void
by_relay_key(auth_service *s, np_rpc_call *call, const char *cred, size_t len)
{
    char hash[67];
    auth_relaykey_hash(s->relay_key, cred, len, hash);
    PGconn *c = np_db_acquire(s->base.db, AUTH_DB_WAIT_MS);
    if (c == NULL) {
        np_rpc_reply_error(call, NP_ERR_DB, NULL);
        return;
    }
    const char *params[] = {hash};
    PGresult *res = NULL;
    np_err err = np_db_exec(c, RELAY_KEY_SELECT "WHERE k.key_hash = $1::bytea", 1, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 0) {
        PQclear(res);
        res = NULL;
        err = upgrade_legacy(c, hash, cred, len, &res);
    }
    np_db_release(s->base.db, c);
    if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_DB, NULL);
    } else if (PQntuples(res) != 1) {
        np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED, "this relay key is not valid");
    } else {
        np_db_row row = np_db_row_at(res, 0);
        int64_t kid = np_db_int(&row, 0), uid = np_db_int(&row, 2);
        bool enabled = np_db_bool(&row, 1), user_disabled = np_db_bool(&row, 4);
        if (row.err != NP_ERR_OK) {
            np_rpc_reply_error(call, NP_ERR_DB, NULL);
        } else if (!enabled) {
            np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED, "this relay key is disabled");
        } else if (user_disabled) {
            np_rpc_reply_error(call, NP_ERR_FORBIDDEN, "this account is disabled");
        } else {
            auth_flusher_note(s->flusher, kid);
            reply_principal(call, uid, PQgetvalue(res, 0, 3), kid);
        }
    }
    PQclear(res);
}

static void
by_session(auth_service *s, np_rpc_call *call, const char *cred, size_t len)
{
    auth_claims claims;
    const char *why = NULL;
    if (auth_jwt_verify(s->jwt_key, cred, len, (int64_t)time(NULL), &claims, &why) != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED, why);
        return;
    }
    PGconn *c = np_db_acquire(s->base.db, AUTH_DB_WAIT_MS);
    if (c == NULL) {
        np_rpc_reply_error(call, NP_ERR_DB, NULL);
        return;
    }
    auth_user u;
    np_err err = auth_user_by_id(c, claims.uid, &u);
    np_db_release(s->base.db, c);
    np_wipe(u.password_hash, sizeof(u.password_hash));
    if (err == NP_ERR_NOT_FOUND || (err == NP_ERR_OK && u.token_version != claims.ver)) {
        np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED, "this session has ended; sign in again");
    } else if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_DB, NULL);
    } else if (u.disabled) {
        np_rpc_reply_error(call, NP_ERR_FORBIDDEN, "this account is disabled");
    } else {
        reply_principal(call, u.id, u.role, 0);
    }
}

void
auth_principal_answer(auth_service *s, np_rpc_call *call, const msgpack_object *req)
{
    const char *cred = NULL;
    size_t len = 0;
    if (!np_wire_get_str(req, "cred", &cred, &len) || len == 0) {
        np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED, "no credential was given");
        return;
    }
    if (len > AUTH_JWT_MAX) {
        np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED, "the credential is too long");
    } else if (len > 3 && strncmp(cred, "np-", 3) == 0) {
        if (auth_relaykey_well_formed(cred, len)) {
            by_relay_key(s, call, cred, len);
        } else {
            np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED,
                               "this relay key is malformed (truncated or mistyped?)");
        }
    } else if (auth_jwt_looks_like(cred, len)) {
        by_session(s, call, cred, len);
    } else {
        np_rpc_reply_error(call, NP_ERR_UNAUTHORIZED,
                           "the credential is neither a relay key (np-...) nor a session token");
    }
}
