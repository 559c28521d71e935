/* The upstream_keys table: sealing, fingerprints, and the owner's and admins' views. JSON
 * answers are built by Postgres (json_build_object), so timestamps come out in ISO 8601.
 * Every change announces itself (NOTIFY pool_keys 'k'), so pool instances reload their
 * keyrings. */
#include "keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/db.h"
#include "np/keyjson.h"
#include "np/log.h"
#include "np/novelai.h"

#define KEY_JSON NP_KEY_JSON
#define ADMIN_JSON NP_KEY_ADMIN_JSON

void
pool_keystore_fp_key(const uint8_t enc_key[NP_KEY_LEN], uint8_t fp_key[NP_KEY_LEN])
{
    np_key_derive(enc_key, NP_KEY_LEN, "upstream-fingerprint-v2", fp_key);
}

void
pool_keystore_fingerprint(const uint8_t fp_key[NP_KEY_LEN], const char *token, size_t n,
                          uint8_t out[NP_HMAC_LEN])
{
    np_hmac_sha256(fp_key, NP_KEY_LEN, token, n, out);
}

static void
bytea_hex(const void *p, size_t n, char *out)
{
    out[0] = '\\';
    out[1] = 'x';
    np_hex(p, n, out + 2);
}

np_err
pool_keystore_exists(PGconn *c, const uint8_t fp[NP_HMAC_LEN], bool *exists)
{
    char hex[2 * NP_HMAC_LEN + 3];
    bytea_hex(fp, NP_HMAC_LEN, hex);
    const char *params[] = {hex};
    PGresult *res = NULL;
    np_err err =
        np_db_exec(c, "SELECT 1 FROM upstream_keys WHERE fingerprint = $1::bytea", 1, params, &res);
    if (err == NP_ERR_OK) {
        *exists = PQntuples(res) > 0;
    }
    PQclear(res);
    return err;
}

static void
aad_of(int64_t id, uint8_t aad[8])
{
    for (int i = 0; i < 8; i++) {
        aad[i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
    }
}

np_err
pool_keystore_seal(const uint8_t enc_key[NP_KEY_LEN], int64_t id, const char *token, size_t n,
                   np_buf *out)
{
    uint8_t aad[8];
    aad_of(id, aad);
    return np_aead_seal(enc_key, aad, sizeof(aad), token, n, out);
}

np_err
pool_keystore_open(const uint8_t enc_key[NP_KEY_LEN], int64_t id, const void *sealed, size_t n,
                   char *token, size_t tlen)
{
    uint8_t aad[8];
    aad_of(id, aad);
    np_buf pt;
    np_buf_init(&pt, 4096);
    np_err err = np_aead_open(enc_key, aad, sizeof(aad), sealed, n, &pt);
    if (err == NP_ERR_OK && pt.len + 1 > tlen) {
        err = NP_ERR_CRYPTO;
    }
    if (err == NP_ERR_OK) {
        memcpy(token, pt.data, pt.len);
        token[pt.len] = '\0';
    }
    if (pt.data != NULL) {
        np_wipe(pt.data, pt.len);
    }
    np_buf_fini(&pt);
    return err;
}

static np_err
exec_simple(PGconn *c, const char *sql)
{
    return np_db_exec(c, sql, 0, NULL, NULL);
}

np_err
pool_keystore_add(PGconn *c, const uint8_t enc_key[NP_KEY_LEN], int64_t owner, const char *token,
                  size_t n, const uint8_t fp[NP_HMAC_LEN], const pool_key_settings *set,
                  const pool_probe_result *probe, int64_t id)
{
    char id_s[24], owner_s[24], fp_hex[2 * NP_HMAC_LEN + 3], masked[32], max_s[24], floor_s[24];
    char tier_s[16], anlas_s[24], exp_s[24], pct_s[32];
    snprintf(id_s, sizeof(id_s), "%lld", (long long)id);
    snprintf(owner_s, sizeof(owner_s), "%lld", (long long)owner);
    bytea_hex(fp, NP_HMAC_LEN, fp_hex);
    np_novelai_token_mask(token, n, masked, sizeof(masked));
    snprintf(max_s, sizeof(max_s), "%lld", (long long)set->max_anlas);
    snprintf(floor_s, sizeof(floor_s), "%lld", (long long)set->floor);
    bool ok200 = probe->status == 200;
    snprintf(tier_s, sizeof(tier_s), "%d", probe->sub.tier);
    snprintf(anlas_s, sizeof(anlas_s), "%lld", (long long)probe->sub.anlas);
    snprintf(exp_s, sizeof(exp_s), "%lld", (long long)probe->sub.expires_at);
    snprintf(pct_s, sizeof(pct_s), "%.3f", probe->sub.v5_percent);
    const char *params[] = {
        owner_s,
        fp_hex,
        masked,
        set->note != NULL ? set->note : "",
        set->allow_paid ? "true" : "false",
        set->max_anlas >= 0 ? max_s : NULL,
        floor_s,
        probe->state != NULL ? probe->state : "pending",
        ok200 ? tier_s : NULL,
        ok200 ? (probe->sub.active ? "true" : "false") : NULL,
        ok200 && probe->sub.expires_at > 0 ? exp_s : NULL,
        ok200 ? anlas_s : NULL,
        ok200 ? (probe->sub.v5_negative ? "true" : "false") : NULL,
        ok200 ? pct_s : NULL,
        probe->error[0] ? probe->error : NULL,
        id_s,
    };
    np_buf sealed;
    np_buf_init(&sealed, 4096);
    PGresult *res = NULL;
    np_err err = exec_simple(c, "BEGIN");
    if (err != NP_ERR_OK) {
        goto cleanup;
    }
    /* Lock the owner's row, then count in a statement that sees every add committed
     * before the lock was granted. */
    const char *lock[] = {owner_s};
    err = np_db_exec(c, "SELECT role FROM users WHERE id = $1 FOR UPDATE", 1, lock, NULL);
    if (err == NP_ERR_OK) {
        err = pool_keystore_precheck(c, owner, set->max_keys);
    }
    if (err != NP_ERR_OK) {
        goto cleanup;
    }
    err = np_db_exec(c,
                     "INSERT INTO upstream_keys (id, owner_id, fingerprint, fp_version, masked, "
                     "note, allow_paid, max_anlas_per_request, anlas_floor, state, tier, "
                     "sub_active, expires_at, anlas, v5_negative, v5_percent, last_error, "
                     "last_checked_at) VALUES ($16, $1, $2::bytea, 2, $3, $4, $5, $6, $7, $8, "
                     "$9, $10, to_timestamp($11::bigint), $12, $13, $14, $15, now())",
                     16, params, NULL);
    if (err != NP_ERR_OK) {
        goto cleanup;
    }
    err = pool_keystore_seal(enc_key, id, token, n, &sealed);
    if (err != NP_ERR_OK) {
        goto cleanup;
    }
    {
        char *hex = malloc(2 * sealed.len + 3);
        if (hex == NULL) {
            err = NP_ERR_NOMEM;
            goto cleanup;
        }
        bytea_hex(sealed.data, sealed.len, hex);
        const char *p2[] = {hex, id_s};
        err = np_db_exec(c, "UPDATE upstream_keys SET ciphertext = $1::bytea WHERE id = $2", 2, p2,
                         NULL);
        free(hex);
    }
    if (err == NP_ERR_OK) {
        err = exec_simple(c, "NOTIFY pool_keys, 'k'"); /* keyrings reload (keyring.h) */
    }
    if (err == NP_ERR_OK) {
        err = exec_simple(c, "COMMIT");
    }
cleanup:
    PQclear(res);
    if (err != NP_ERR_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
        exec_simple(c, "ROLLBACK");
    }
    np_buf_fini(&sealed);
    return err;
}

/* query_json runs a statement whose first cell is one JSON value and parses it into *out;
 * NP_ERR_NOT_FOUND when there is no row. */
static np_err
query_json(PGconn *c, const char *sql, const np_db_params *params, json_t **out)
{
    PGresult *res = NULL;
    np_err err = np_db_exec_params(c, sql, params, &res);
    if (err == NP_ERR_OK && (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))) {
        err = NP_ERR_NOT_FOUND;
    }
    if (err == NP_ERR_OK && (*out = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) == NULL) {
        err = NP_ERR_INTERNAL;
    }
    PQclear(res);
    return err;
}

np_err
pool_keystore_get(PGconn *c, int64_t id, int64_t owner, bool admin, json_t **out)
{
    np_db_params params;
    np_db_params_init(&params);
    np_db_param_int(&params, id);
    np_db_param_int(&params, owner);
    return query_json(c,
                      admin ? "SELECT " ADMIN_JSON " FROM upstream_keys k JOIN users u ON "
                              "u.id = k.owner_id WHERE k.id = $1 AND ($2::bigint = 0 OR "
                              "k.owner_id = $2)"
                            : "SELECT " KEY_JSON " FROM upstream_keys k WHERE k.id = $1 "
                              "AND ($2::bigint = 0 OR k.owner_id = $2)",
                      &params, out);
}

np_err
pool_keystore_list(PGconn *c, int64_t owner, bool admin, json_t **out)
{
    np_db_params params;
    np_db_params_init(&params);
    np_db_param_int(&params, owner);
    return query_json(
        c,
        admin ? "SELECT coalesce(json_agg(" ADMIN_JSON " ORDER BY k.id), '[]') FROM "
                "upstream_keys k JOIN users u ON u.id = k.owner_id WHERE ($1::bigint = 0 OR "
                "k.owner_id = $1)"
              : "SELECT coalesce(json_agg(" KEY_JSON " ORDER BY k.id), '[]') FROM upstream_keys "
                "k WHERE ($1::bigint = 0 OR k.owner_id = $1)",
        &params, out);
}

/* opt_bool, opt_int add v when has, else SQL NULL (the column is left as it is) */
static void
opt_bool(np_db_params *p, bool has, bool v)
{
    if (has) {
        np_db_param_bool(p, v);
    } else {
        np_db_param_null(p);
    }
}

static void
opt_int(np_db_params *p, bool has, int64_t v)
{
    if (has) {
        np_db_param_int(p, v);
    } else {
        np_db_param_null(p);
    }
}

np_err
pool_keystore_patch(PGconn *c, int64_t id, int64_t owner, bool by_admin, const pool_key_patch *p,
                    char *from, char *to, size_t statelen)
{
    /* $1 id, $2 owner, then each field or NULL (left as it is), $9 who edits */
    np_db_params params;
    np_db_params_init(&params);
    np_db_param_int(&params, id);
    np_db_param_int(&params, owner);
    np_db_param_str(&params, p->has_note ? p->note : NULL);
    opt_bool(&params, p->has_enabled, p->enabled);
    opt_bool(&params, p->has_allow_paid, p->allow_paid);
    np_db_param_bool(&params, p->has_max);
    opt_int(&params, p->has_max && p->max_anlas >= 0, p->max_anlas);
    opt_int(&params, p->has_floor, p->floor);
    np_db_param_str(&params, by_admin ? "admin" : "owner");
    /* The old row is read under the row lock of the same statement, so from/to are exact
     * even when two edits race. An owner may not re-enable what an admin disabled. */
    PGresult *res = NULL;
    np_err err = np_db_exec_params(
        c,
        "WITH old AS (SELECT id, enabled, state, disabled_by FROM upstream_keys WHERE id = $1 "
        "AND ($2::bigint = 0 OR owner_id = $2) FOR UPDATE), upd AS (UPDATE upstream_keys k SET "
        "note = coalesce($3, k.note), "
        "enabled = coalesce($4::boolean, k.enabled), "
        "disabled_by = CASE WHEN $4::boolean IS NULL THEN k.disabled_by WHEN $4::boolean THEN "
        "NULL ELSE $9 END, "
        "allow_paid = coalesce($5::boolean, k.allow_paid), "
        "max_anlas_per_request = CASE WHEN $6::boolean THEN $7::integer ELSE "
        "k.max_anlas_per_request END, "
        "anlas_floor = coalesce($8::integer, k.anlas_floor) "
        "FROM old WHERE k.id = old.id AND NOT ($9 = 'owner' AND $4::boolean AND NOT old.enabled "
        "AND old.disabled_by = 'admin') RETURNING " NP_KEY_VISIBLE_STATE ") "
        "SELECT CASE WHEN old.enabled THEN old.state ELSE 'disabled' END, (SELECT * FROM upd), "
        "pg_notify('pool_keys', 'k') FROM old",
        &params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 0) {
        err = NP_ERR_NOT_FOUND;
    } else if (err == NP_ERR_OK && PQgetisnull(res, 0, 1)) {
        err = NP_ERR_FORBIDDEN;
    } else if (err == NP_ERR_OK) {
        snprintf(from, statelen, "%s", PQgetvalue(res, 0, 0));
        snprintf(to, statelen, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return err;
}

np_err
pool_keystore_delete(PGconn *c, int64_t id, int64_t owner)
{
    np_db_params params;
    np_db_params_init(&params);
    np_db_param_int(&params, id);
    np_db_param_int(&params, owner);
    PGresult *res = NULL;
    np_err err = np_db_exec_params(c,
                                   "DELETE FROM upstream_keys WHERE id = $1 AND owner_id = $2 "
                                   "RETURNING pg_notify('pool_keys', 'k')",
                                   &params, &res);
    if (err == NP_ERR_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        err = NP_ERR_NOT_FOUND;
    }
    PQclear(res);
    return err;
}

np_err
pool_keystore_counts(PGconn *c, int64_t owner, int64_t *contributed, int64_t *healthy)
{
    np_db_params params;
    np_db_params_init(&params);
    np_db_param_int(&params, owner);
    PGresult *res = NULL;
    np_err err = np_db_exec_params(c,
                                   "SELECT count(*), count(*) FILTER (WHERE enabled AND state IN "
                                   "('active', 'cooling')) FROM upstream_keys WHERE owner_id = $1",
                                   &params, &res);
    if (err == NP_ERR_OK) {
        np_db_row row = np_db_row_at(res, 0);
        *contributed = np_db_int(&row, 0);
        *healthy = np_db_int(&row, 1);
        err = row.err;
    }
    PQclear(res);
    return err;
}

np_err
pool_keystore_reserve_id(PGconn *c, int64_t *id)
{
    PGresult *res = NULL;
    np_err err = np_db_exec(c, "SELECT nextval(pg_get_serial_sequence('upstream_keys', 'id'))", 0,
                            NULL, &res);
    if (err == NP_ERR_OK) {
        np_db_row row = np_db_row_at(res, 0);
        *id = np_db_int(&row, 0);
        err = row.err;
    }
    PQclear(res);
    return err;
}

np_err
pool_keystore_precheck(PGconn *c, int64_t owner, int64_t max_keys)
{
    char owner_s[24], cap_s[24];
    snprintf(owner_s, sizeof(owner_s), "%lld", (long long)owner);
    snprintf(cap_s, sizeof(cap_s), "%lld", (long long)max_keys);
    const char *params[] = {owner_s, cap_s};
    PGresult *res = NULL;
    np_err err = np_db_exec(c,
                            "SELECT 1 FROM users u WHERE u.id = $1 AND u.role <> 'admin' AND "
                            "$2::bigint > 0 AND (SELECT count(*) FROM upstream_keys k WHERE "
                            "k.owner_id = $1) >= $2::bigint",
                            2, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) > 0) {
        err = NP_ERR_LIMIT;
    }
    PQclear(res);
    return err;
}

np_err
pool_keystore_take_upload(PGconn *c, int64_t owner, int64_t per_hour, int64_t *retry_s)
{
    char owner_s[24], cap_s[24];
    snprintf(owner_s, sizeof(owner_s), "%lld", (long long)owner);
    snprintf(cap_s, sizeof(cap_s), "%lld", (long long)per_hour);
    const char *params[] = {owner_s, cap_s};
    *retry_s = 0;
    if (per_hour <= 0) {
        return NP_ERR_OK;
    }
    PGresult *res = NULL;
    np_err err = exec_simple(c, "BEGIN");
    /* Lock the owner, then count in statements that see every attempt committed before. */
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "SELECT role = 'admin' FROM users WHERE id = $1 FOR UPDATE", 1, params,
                         &res);
    }
    bool exempt = false;
    if (err == NP_ERR_OK && PQntuples(res) > 0) {
        np_db_row row = np_db_row_at(res, 0);
        exempt = np_db_bool(&row, 0);
        err = row.err;
    }
    PQclear(res);
    res = NULL;
    if (err == NP_ERR_OK && !exempt) {
        err = np_db_exec(c,
                         "DELETE FROM key_upload_attempts WHERE user_id = $1 AND "
                         "at <= now() - interval '1 hour'",
                         1, params, NULL);
    }
    if (err == NP_ERR_OK && !exempt) {
        err = np_db_exec(c,
                         "SELECT count(*) >= $2::bigint, greatest(1, ceil(extract(epoch FROM "
                         "min(at) + interval '1 hour' - now())))::bigint FROM "
                         "key_upload_attempts WHERE user_id = $1",
                         2, params, &res);
    }
    bool over = false;
    if (err == NP_ERR_OK && !exempt) {
        np_db_row row = np_db_row_at(res, 0);
        over = np_db_bool(&row, 0);
        if (over) {
            *retry_s = np_db_int(&row, 1);
        }
        err = row.err;
    }
    if (err == NP_ERR_OK && over) {
        err = NP_ERR_RATE_LIMITED;
    } else if (err == NP_ERR_OK && !exempt) {
        err =
            np_db_exec(c, "INSERT INTO key_upload_attempts (user_id) VALUES ($1)", 1, params, NULL);
    }
    PQclear(res);
    /* A refusal keeps the clean-up of old rows: commit it too. */
    if (err == NP_ERR_OK || err == NP_ERR_RATE_LIMITED) {
        np_err cerr = exec_simple(c, "COMMIT");
        err = cerr != NP_ERR_OK ? cerr : err;
    }
    if (PQtransactionStatus(c) != PQTRANS_IDLE) {
        exec_simple(c, "ROLLBACK");
    }
    return err;
}

np_err
pool_keystore_refingerprint(PGconn *c, const uint8_t enc_key[NP_KEY_LEN],
                            const uint8_t fp_key[NP_KEY_LEN], int64_t *n)
{
    *n = 0;
    PGresult *res = NULL;
    np_err err = exec_simple(c, "BEGIN");
    if (err == NP_ERR_OK) {
        err = np_db_exec(c,
                         "SELECT id, ciphertext FROM upstream_keys WHERE fp_version = 1 AND "
                         "ciphertext IS NOT NULL ORDER BY id FOR UPDATE",
                         0, NULL, &res);
    }
    for (int i = 0; err == NP_ERR_OK && i < PQntuples(res); i++) {
        np_db_row row = np_db_row_at(res, i);
        int64_t id = np_db_int(&row, 0);
        const char *sealed = np_db_str(&row, 1);
        if ((err = row.err) != NP_ERR_OK) {
            break; /* logged by the reader; the transaction rolls back */
        }
        size_t blen = 0;
        unsigned char *bin = PQunescapeBytea((const unsigned char *)sealed, &blen);
        char token[512];
        if (bin == NULL ||
            pool_keystore_open(enc_key, id, bin, blen, token, sizeof(token)) != NP_ERR_OK) {
            np_log_warn("pool", "key %lld cannot be decrypted: its fingerprint stays of version 1",
                        (long long)id);
            PQfreemem(bin);
            continue;
        }
        PQfreemem(bin);
        uint8_t fp[NP_HMAC_LEN];
        pool_keystore_fingerprint(fp_key, token, strlen(token), fp);
        np_wipe(token, sizeof(token));
        char fp_hex[2 * NP_HMAC_LEN + 3];
        bytea_hex(fp, NP_HMAC_LEN, fp_hex);
        const char *params[] = {fp_hex, PQgetvalue(res, i, 0)};
        err = np_db_exec(c,
                         "UPDATE upstream_keys SET fingerprint = $1::bytea, fp_version = 2 "
                         "WHERE id = $2",
                         2, params, NULL);
        *n += err == NP_ERR_OK;
    }
    PQclear(res);
    if (err == NP_ERR_OK) {
        err = exec_simple(c, "COMMIT");
    }
    if (PQtransactionStatus(c) != PQTRANS_IDLE) {
        exec_simple(c, "ROLLBACK");
        *n = 0;
    }
    return err;
}
