/* naipool import: the earlier Python pool's data into this suite, all or nothing.
 *
 * 1. open the old database (oldsrc.h) and a connection of our own to the new one;
 * 2. BEGIN, and take an advisory lock so two imports cannot interleave;
 * 3. users, relay keys, contributed keys, settings, logs, in that order (later ones name
 *    earlier ones through import_map, which also makes a second run a no-op);
 * 4. COMMIT, or ROLLBACK on any failure and on --dry-run.
 * Tokens are decrypted only to be sealed again here and to compute their fingerprint; they
 * are wiped at once and never printed. */
#include "import.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "np/buf.h"
#include "np/crypto.h"
#include "np/db.h"
#include "np/novelai.h"
#include "oldsrc.h"
#include "pool/keystore.h"

/* "import" in ASCII, naming the advisory lock that serialises imports. */
#define IMPORT_LOCK "105109112111114116"
#define NAME_MAX_BYTES 64
#define ROUTE_MAX_BYTES 128
#define TOKEN_MAX 256

typedef struct {
    int fresh, again, other; /* new rows; already imported; merged, duplicate or skipped */
} tally;

typedef struct {
    PGconn *db;
    cli_oldsrc *src;
    const np_config *cfg;
    const cli_import_opts *opts;
    uint8_t enc_key[NP_KEY_LEN], old_key[NP_KEY_LEN], fp_key[NP_KEY_LEN];
    bool log_ip;
    tally users, relay, keys, settings, logs;
    int probe_first; /* imported keys health probes before they serve */
    np_buf notes;    /* one line per row that needs the operator's attention */
    char why[600];
} importer;

__attribute__((format(printf, 2, 3))) static void
note(importer *im, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    np_buf_printf(&im->notes, "  - %s\n", line); /* past the cap, further notes are dropped */
}

static bool
truthy(const char *v)
{
    return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0 ||
                         strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

/* number: v when it is a plain integer, else NULL (SQL NULL). */
static const char *
number(const char *v)
{
    if (v == NULL || v[0] == '\0') {
        return NULL;
    }
    for (const char *p = v[0] == '-' ? v + 1 : v; *p; p++) {
        if (*p < '0' || *p > '9' || p - v > 18) {
            return NULL;
        }
    }
    return v;
}

/* stamp: v when it looks like a timestamp ("2025-01-02 03:04:05.678"), else NULL. The
 * earlier pool stores naive UTC; the SQL reads it AT TIME ZONE 'UTC'. */
static const char *
stamp(const char *v)
{
    if (v == NULL || strlen(v) < 10 || strlen(v) > 32) {
        return NULL;
    }
    for (const char *p = v; *p; p++) {
        if (!strchr("0123456789-:. T", *p)) {
            return NULL;
        }
    }
    return v;
}

/* clip copies v into out, cut at max bytes without splitting a UTF-8 character. */
static const char *
clip(const char *v, char *out, size_t max)
{
    size_t n = strlen(v);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return out;
}

static np_err
exec(importer *im, const char *sql, int n, const char *const *params, PGresult **res)
{
    np_err err = np_db_exec(im->db, sql, n, params, res);
    if (err != NP_ERR_OK && im->why[0] == '\0') {
        snprintf(im->why, sizeof(im->why), "writing the new database: %s", PQerrorMessage(im->db));
    }
    return err;
}

/* mapped looks up the new id of an old row; *found false when it was not imported. */
static np_err
mapped(importer *im, const char *kind, const char *old_id, char *new_id, bool *found)
{
    *found = false;
    if (number(old_id) == NULL) {
        return NP_ERR_OK;
    }
    const char *p[] = {kind, old_id};
    PGresult *res = NULL;
    np_err err =
        exec(im, "SELECT new_id FROM import_map WHERE kind = $1 AND old_id = $2", 2, p, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        snprintf(new_id, 24, "%s", PQgetvalue(res, 0, 0));
        *found = true;
    }
    PQclear(res);
    return err;
}

static np_err
remember(importer *im, const char *kind, const char *old_id, const char *new_id)
{
    const char *p[] = {kind, old_id, new_id};
    return exec(im, "INSERT INTO import_map (kind, old_id, new_id) VALUES ($1, $2, $3)", 3, p,
                NULL);
}

/* first_id runs a query answering at most one id; *found says whether it did. */
static np_err
first_id(importer *im, const char *sql, int n, const char *const *params, char *id, bool *found)
{
    PGresult *res = NULL;
    np_err err = exec(im, sql, n, params, &res);
    *found = err == NP_ERR_OK && PQntuples(res) > 0;
    if (*found) {
        snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return err;
}

/* users: id, username, email, hashed_password, role, is_active, manual_rpm, created_at */
static np_err
on_user(void *arg, const char *const *c, int n)
{
    importer *im = arg;
    char id[24];
    bool found;
    np_err err = mapped(im, "user", c[0], id, &found);
    if (err != NP_ERR_OK || found) {
        im->users.again += found;
        return err;
    }
    if (number(c[0]) == NULL || c[1] == NULL || c[1][0] == '\0') {
        note(im, "a user without an id or a name was skipped");
        im->users.other++;
        return NP_ERR_OK;
    }
    const char *name[] = {c[1]};
    err =
        first_id(im, "SELECT id FROM users WHERE lower(username) = lower($1)", 1, name, id, &found);
    if (err == NP_ERR_OK && found) {
        /* Already here (the bootstrapped admin, most often): the old rows are attached to
         * this account, whose password and settings stay as they are. */
        note(im, "user %s already exists here: merged, its password here is kept", c[1]);
        im->users.other++;
        return remember(im, "user", c[0], id);
    }
    const char *email = c[2] != NULL && c[2][0] != '\0' ? c[2] : NULL;
    if (err == NP_ERR_OK && email != NULL) {
        const char *e[] = {email};
        char other[24];
        err = first_id(im, "SELECT id FROM users WHERE lower(email) = lower($1)", 1, e, other,
                       &found);
        if (err == NP_ERR_OK && found) {
            note(im, "user %s: e-mail already used by another account here, left empty", c[1]);
            email = NULL;
        }
    }
    if (err != NP_ERR_OK) {
        return err;
    }
    const char *hash = c[3] != NULL && c[3][0] != '\0' ? c[3] : "!";
    if (strncmp(hash, "$pbkdf2-sha256$", 15) != 0) {
        note(im, "user %s: password hash of an unknown kind; the password must be reset", c[1]);
    }
    const char *p[] = {c[1],
                       hash,
                       c[4] != NULL && strcmp(c[4], "admin") == 0 ? "admin" : "user",
                       c[5] == NULL || truthy(c[5]) ? "false" : "true",
                       number(c[6]) != NULL && c[6][0] != '-' ? c[6] : NULL,
                       email,
                       stamp(c[7])};
    err = first_id(im,
                   "INSERT INTO users (username, password_hash, role, disabled, rpm_override, "
                   "email, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
                   "coalesce($7::timestamp AT TIME ZONE 'UTC', now())) RETURNING id",
                   7, p, id, &found);
    if (err == NP_ERR_OK) {
        im->users.fresh++;
        err = remember(im, "user", c[0], id);
    }
    (void)n;
    return err;
}

/* hex64_bytea: 64 hex digits as a bytea literal, or false. */
static bool
hex64_bytea(const char *v, char out[67])
{
    if (v == NULL || strlen(v) != 64) {
        return false;
    }
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < 64; i++) {
        char ch = v[i];
        if (ch >= 'A' && ch <= 'F') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return false;
        }
        out[2 + i] = ch;
    }
    out[66] = '\0';
    return true;
}

/* client_api_keys: id, user_id, name, key_hash, prefix, is_active, created_at, last_used_at */
static np_err
on_relay_key(void *arg, const char *const *c, int n)
{
    importer *im = arg;
    char id[24], owner[24], sha[67], name[NAME_MAX_BYTES + 1], prefix[16];
    bool found;
    np_err err = mapped(im, "relay_key", c[0], id, &found);
    if (err != NP_ERR_OK || found) {
        im->relay.again += found;
        return err;
    }
    if ((err = mapped(im, "user", c[1], owner, &found)) != NP_ERR_OK) {
        return err;
    }
    if (!found || number(c[0]) == NULL || !hex64_bytea(c[3], sha)) {
        note(im, "relay key %s skipped: no such user, or no sha256 stored", c[0]);
        im->relay.other++;
        return NP_ERR_OK;
    }
    const char *s[] = {sha};
    err =
        first_id(im, "SELECT id FROM relay_keys WHERE legacy_sha256 = $1::bytea", 1, s, id, &found);
    if (err == NP_ERR_OK && found) {
        im->relay.other++;
        return remember(im, "relay_key", c[0], id);
    }
    const char *p[] = {owner,
                       clip(c[2] != NULL && c[2][0] ? c[2] : "imported", name, NAME_MAX_BYTES),
                       sha,
                       clip(c[4] != NULL && c[4][0] ? c[4] : "np-", prefix, 9),
                       c[5] == NULL || truthy(c[5]) ? "true" : "false",
                       stamp(c[6]),
                       stamp(c[7])};
    err = first_id(im,
                   "INSERT INTO relay_keys (user_id, name, legacy_sha256, prefix, enabled, "
                   "created_at, last_used_at) VALUES ($1, $2, $3::bytea, $4, $5, "
                   "coalesce($6::timestamp AT TIME ZONE 'UTC', now()), "
                   "$7::timestamp AT TIME ZONE 'UTC') RETURNING id",
                   7, p, id, &found);
    if (err == NP_ERR_OK) {
        im->relay.fresh++;
        err = remember(im, "relay_key", c[0], id);
    }
    (void)n;
    return err;
}

/* open_old decrypts the earlier pool's key_encrypted: URL-safe base64 of nonce(12) |
 * AES-256-GCM ciphertext | tag(16), no associated data. */
static np_err
open_old(importer *im, const char *b64, char *token, size_t tlen, size_t *n)
{
    np_buf raw, pt;
    np_buf_init(&raw, 1024);
    np_buf_init(&pt, 1024);
    np_err err =
        b64 != NULL && np_b64url_decode(b64, strlen(b64), &raw) ? NP_ERR_OK : NP_ERR_INVALID;
    if (err == NP_ERR_OK) {
        err = np_aead_open(im->old_key, NULL, 0, raw.data, raw.len, &pt);
    }
    if (err == NP_ERR_OK && pt.len >= tlen) {
        err = NP_ERR_INVALID;
    }
    if (err == NP_ERR_OK) {
        memcpy(token, pt.data, pt.len);
        token[pt.len] = '\0';
        *n = pt.len;
    }
    np_wipe(pt.data, pt.len);
    np_buf_fini(&pt);
    np_buf_fini(&raw);
    return err;
}

/* state: the earlier pool's status as one of this suite's key states. The keys it found
 * broken stay so (invalid, exhausted, expired) until health sees otherwise. A usable key
 * (active, cooling) comes in pending: the earlier pool stored none of the subscription facts
 * (tier and activity now, Anlas, V5 allowance) the cost guard needs, so health probes it
 * first (at once: pending keys never probed come first) and only then does it serve. */
static const char *
state(const char *old)
{
    static const char *const kept[] = {"invalid", "exhausted", "expired", NULL};
    for (int i = 0; old != NULL && kept[i] != NULL; i++) {
        if (strcmp(old, kept[i]) == 0) {
            return old;
        }
    }
    return "pending";
}

static np_err
seal_into(importer *im, const char *id, const char *token, size_t n)
{
    np_buf sealed;
    np_buf_init(&sealed, 4096);
    np_err err = pool_keystore_seal(im->enc_key, strtoll(id, NULL, 10), token, n, &sealed);
    char *hex = err == NP_ERR_OK ? malloc(2 * sealed.len + 3) : NULL;
    if (err == NP_ERR_OK && hex == NULL) {
        err = NP_ERR_NOMEM;
    }
    if (err == NP_ERR_OK) {
        hex[0] = '\\';
        hex[1] = 'x';
        np_hex(sealed.data, sealed.len, hex + 2);
        const char *p[] = {hex, id};
        err = exec(im, "UPDATE upstream_keys SET ciphertext = $1::bytea WHERE id = $2", 2, p, NULL);
    }
    free(hex);
    np_buf_fini(&sealed);
    return err;
}

/* api_keys: id, user_id, key_encrypted, status, tier, is_enabled, fail_streak, last_error,
 * created_at, last_checked_at, cooldown_until */
static np_err
on_upstream_key(void *arg, const char *const *c, int n)
{
    importer *im = arg;
    char id[24], owner[24], token[TOKEN_MAX], masked[32], fp_hex[2 * NP_HMAC_LEN + 3];
    size_t len = 0;
    bool found;
    np_err err = mapped(im, "upstream_key", c[0], id, &found);
    if (err != NP_ERR_OK || found) {
        im->keys.again += found;
        return err;
    }
    if ((err = mapped(im, "user", c[1], owner, &found)) != NP_ERR_OK) {
        return err;
    }
    if (!found || number(c[0]) == NULL) {
        note(im, "contributed key %s skipped: its user was not imported", c[0]);
        im->keys.other++;
        return NP_ERR_OK;
    }
    if (open_old(im, c[2], token, sizeof(token), &len) != NP_ERR_OK) {
        snprintf(im->why, sizeof(im->why),
                 "contributed key %s of the earlier pool does not open with the key given: set "
                 "OLD_ENCRYPTION_KEY (or ENCRYPTION_KEY) to the earlier pool's ENCRYPTION_KEY",
                 c[0]);
        return NP_ERR_CRYPTO;
    }
    if (!np_novelai_token_valid(token, len)) {
        np_wipe(token, sizeof(token));
        note(im, "contributed key %s skipped: not a persistent token (pst-...)", c[0]);
        im->keys.other++;
        return NP_ERR_OK;
    }
    uint8_t fp[NP_HMAC_LEN];
    pool_keystore_fingerprint(im->fp_key, token, len, fp);
    np_novelai_token_mask(token, len, masked, sizeof(masked));
    fp_hex[0] = '\\';
    fp_hex[1] = 'x';
    np_hex(fp, sizeof(fp), fp_hex + 2);
    const char *f[] = {fp_hex};
    err = first_id(im, "SELECT id FROM upstream_keys WHERE fingerprint = $1::bytea", 1, f, id,
                   &found);
    if (err == NP_ERR_OK && found) {
        note(im, "contributed key %s is already in this pool (same token): not added twice", c[0]);
        im->keys.other++;
        err = remember(im, "upstream_key", c[0], id);
        np_wipe(token, sizeof(token));
        return err;
    }
    bool enabled = c[5] == NULL || truthy(c[5]);
    const char *st = state(c[3]);
    bool pending = strcmp(st, "pending") == 0;
    const char *p[] = {owner,
                       fp_hex,
                       masked,
                       enabled ? "true" : "false",
                       enabled ? NULL : "owner",
                       st,
                       number(c[4]),
                       number(c[6]) != NULL && c[6][0] != '-' ? c[6] : "0",
                       c[7],
                       stamp(c[8]),
                       pending ? NULL : stamp(c[9]),
                       pending ? NULL : stamp(c[10])};
    if (err == NP_ERR_OK) {
        err =
            first_id(im,
                     "INSERT INTO upstream_keys (owner_id, fingerprint, fp_version, masked, note, "
                     "enabled, disabled_by, state, tier, fail_streak, last_error, created_at, "
                     "last_checked_at, cooldown_until) VALUES ($1, $2::bytea, 2, $3, 'imported', "
                     "$4, $5, $6, $7, $8, $9, coalesce($10::timestamp AT TIME ZONE 'UTC', "
                     "now()), $11::timestamp AT TIME ZONE 'UTC', "
                     "$12::timestamp AT TIME ZONE 'UTC') RETURNING id",
                     12, p, id, &found);
    }
    if (err == NP_ERR_OK) {
        err = seal_into(im, id, token, len);
    }
    np_wipe(token, sizeof(token));
    if (err == NP_ERR_OK) {
        im->keys.fresh++;
        im->probe_first += pending;
        err = remember(im, "upstream_key", c[0], id);
    }
    (void)n;
    return err;
}

/* The earlier pool's runtime setting names that differ here (SEED-COMPAT.md). */
static const char *
setting_name(const char *old)
{
    static const struct {
        const char *old, *now;
    } renamed[] = {{"AUTO_QUOTA_ENABLED", "RATE_LIMIT_MODE"},
                   {"SYSTEM_CONFIG_REFRESH_INTERVAL_SECONDS", "CONFIG_RELOAD_SECONDS"}};
    for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
        if (strcmp(old, renamed[i].old) == 0) {
            return renamed[i].now;
        }
    }
    return old;
}

/* system_config: key, value */
static np_err
on_setting(void *arg, const char *const *c, int n)
{
    importer *im = arg;
    if (c[0] == NULL || c[1] == NULL) {
        return NP_ERR_OK;
    }
    const char *name = setting_name(c[0]);
    const char *value = c[1];
    const np_cfg_spec *spec = np_config_spec(im->cfg, name);
    char why[300] = "";
    if (spec == NULL) {
        note(im, "setting %s not imported: no such setting here", c[0]);
        im->settings.other++;
        return NP_ERR_OK;
    }
    if (!(spec->flags & NP_CFG_RUNTIME) || (spec->flags & NP_CFG_SECRET)) {
        note(im, "setting %s not imported: here it is set in .env or the environment", c[0]);
        im->settings.other++;
        return NP_ERR_OK;
    }
    if (strcmp(name, "RATE_LIMIT_MODE") == 0 && strcmp(c[0], "AUTO_QUOTA_ENABLED") == 0) {
        value = truthy(value) ? "auto" : "manual";
    } else if (spec->type == NP_CFG_BOOL) {
        value = truthy(value) ? "true" : "false";
    }
    if (!np_config_check(im->cfg, name, value, why, sizeof(why))) {
        note(im, "setting not imported: %s", why);
        im->settings.other++;
        return NP_ERR_OK;
    }
    const char *p[] = {name, value};
    PGresult *res = NULL;
    np_err err = exec(im,
                      "INSERT INTO config (key, value, updated_at) VALUES ($1, $2, now()) "
                      "ON CONFLICT (key) DO NOTHING",
                      2, p, &res);
    if (err == NP_ERR_OK) {
        bool fresh = strcmp(PQcmdTuples(res), "1") == 0;
        im->settings.fresh += fresh;
        im->settings.again += !fresh; /* set here already: the value here wins */
    }
    PQclear(res);
    (void)n;
    return err;
}

/* request_logs: id, user_id, api_key_id, action, ip_address, width, height, steps, samples,
 * status, status_code, latency_ms, reject_reason, created_at */
static np_err
on_log(void *arg, const char *const *c, int n)
{
    importer *im = arg;
    char uid[24], kid[24], route[ROUTE_MAX_BYTES + 1];
    bool has_user = false, has_key = false;
    np_err err = NP_ERR_OK;
    if (number(c[0]) == NULL || stamp(c[13]) == NULL) {
        im->logs.other++;
        return NP_ERR_OK;
    }
    if ((err = mapped(im, "user", c[1], uid, &has_user)) != NP_ERR_OK ||
        (err = mapped(im, "upstream_key", c[2], kid, &has_key)) != NP_ERR_OK) {
        return err;
    }
    const char *error = c[12] != NULL && c[12][0] ? c[12] : NULL;
    if (error == NULL && c[9] != NULL && strcmp(c[9], "success") != 0) {
        error = c[9];
    }
    const char *p[] = {c[0],
                       stamp(c[13]),
                       has_user ? uid : NULL,
                       has_key ? kid : NULL,
                       clip(c[3] != NULL ? c[3] : "", route, ROUTE_MAX_BYTES),
                       number(c[5]),
                       number(c[6]),
                       number(c[7]),
                       number(c[8]),
                       number(c[10]) != NULL ? c[10] : "0",
                       error,
                       number(c[11]),
                       im->log_ip ? c[4] : NULL};
    PGresult *res = NULL;
    err = exec(im,
               "INSERT INTO usage_logs (producer_id, seq, time, user_id, upstream_key_id, route, "
               "width, height, steps, n_samples, status, error, latency_ms, ip, node) VALUES "
               "('import', $1, $2::timestamp AT TIME ZONE 'UTC', $3, $4, $5, $6, $7, $8, $9, "
               "$10, $11, $12, $13, 'import') ON CONFLICT (producer_id, seq) DO NOTHING",
               13, p, &res);
    if (err == NP_ERR_OK) {
        bool fresh = strcmp(PQcmdTuples(res), "1") == 0;
        im->logs.fresh += fresh;
        im->logs.again += !fresh;
    }
    PQclear(res);
    (void)n;
    return err;
}

typedef struct {
    const char *table, *sql, *what;
    cli_oldsrc_row_fn fn;
    size_t counts; /* offset of its tally in importer */
    bool logs;
} step;

static const step steps[] = {
    {"users",
     "SELECT id, username, email, hashed_password, role, is_active, manual_rpm, created_at "
     "FROM users ORDER BY id",
     "users", on_user, offsetof(importer, users), false},
    {"client_api_keys",
     "SELECT id, user_id, name, key_hash, prefix, is_active, created_at, last_used_at "
     "FROM client_api_keys ORDER BY id",
     "relay keys", on_relay_key, offsetof(importer, relay), false},
    {"api_keys",
     "SELECT id, user_id, key_encrypted, status, tier, is_enabled, fail_streak, last_error, "
     "created_at, last_checked_at, cooldown_until FROM api_keys ORDER BY id",
     "contributed keys", on_upstream_key, offsetof(importer, keys), false},
    {"system_config", "SELECT key, value FROM system_config ORDER BY key", "settings", on_setting,
     offsetof(importer, settings), false},
    {"request_logs",
     "SELECT id, user_id, api_key_id, action, ip_address, width, height, steps, samples, "
     "status, status_code, latency_ms, reject_reason, created_at FROM request_logs ORDER BY id",
     "request logs", on_log, offsetof(importer, logs), true},
};

/* read_log_ip: client addresses come along with the logs only when LOG_REQUEST_IP is on,
 * as set here or as just imported into the config table. */
static np_err
read_log_ip(importer *im)
{
    PGresult *res = NULL;
    np_err err = exec(im, "SELECT value FROM config WHERE key = 'LOG_REQUEST_IP'", 0, NULL, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        im->log_ip = truthy(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return err;
}

static np_err
run_steps(importer *im)
{
    np_err err = exec(im, "BEGIN", 0, NULL, NULL);
    if (err == NP_ERR_OK) {
        err = exec(im, "SELECT pg_advisory_xact_lock(" IMPORT_LOCK ")", 0, NULL, NULL);
    }
    for (size_t i = 0; err == NP_ERR_OK && i < sizeof(steps) / sizeof(steps[0]); i++) {
        const step *st = &steps[i];
        if (st->logs && !im->opts->with_logs) {
            continue;
        }
        if (st->logs) {
            err = read_log_ip(im);
        }
        if (!cli_oldsrc_has_table(im->src, st->table)) {
            if (i == 0) {
                snprintf(im->why, sizeof(im->why),
                         "the source has no users table: is it the earlier pool's database?");
                err = NP_ERR_INVALID;
            }
            continue;
        }
        err = cli_oldsrc_each(im->src, st->sql, st->fn, im, im->why, sizeof(im->why));
        const tally *t = (const tally *)((const char *)im + st->counts);
        if (err == NP_ERR_OK) {
            printf("%-17s %d new, %d already imported, %d merged or skipped\n", st->what, t->fresh,
                   t->again, t->other);
        }
    }
    if (err == NP_ERR_OK && im->keys.fresh > 0) {
        err = exec(im, "NOTIFY pool_keys, 'k'", 0, NULL, NULL); /* running pools reload */
    }
    if (err == NP_ERR_OK && !im->opts->dry_run) {
        err = exec(im, "COMMIT", 0, NULL, NULL);
    }
    if ((err != NP_ERR_OK || im->opts->dry_run) && PQtransactionStatus(im->db) != PQTRANS_IDLE) {
        PQclear(PQexec(im->db, "ROLLBACK"));
    }
    return err;
}

static bool
load_keys(importer *im)
{
    char text[200];
    NP_SETTING_COPY(im->cfg, np_common, ENCRYPTION_KEY, text, sizeof(text));
    bool ok = np_key_parse(text, im->enc_key);
    const char *old = getenv("OLD_ENCRYPTION_KEY");
    if (ok && old != NULL && old[0] != '\0') {
        ok = np_key_parse(old, im->old_key);
        if (!ok) {
            snprintf(im->why, sizeof(im->why),
                     "OLD_ENCRYPTION_KEY: not URL-safe base64 of 32 bytes");
        }
    } else if (ok) {
        memcpy(im->old_key, im->enc_key, NP_KEY_LEN);
    } else {
        snprintf(im->why, sizeof(im->why), "ENCRYPTION_KEY: not URL-safe base64 of 32 bytes");
    }
    np_wipe(text, sizeof(text));
    /* Fingerprints as the pool makes them (version 2, under ENCRYPTION_KEY): no SECRET_KEY. */
    pool_keystore_fp_key(im->enc_key, im->fp_key);
    return ok;
}

int
cli_import(const np_config *cfg, const cli_import_opts *opts)
{
    importer im = {
        .cfg = cfg, .opts = opts, .log_ip = NP_SETTING_NOW(cfg, np_common, LOG_REQUEST_IP)};
    np_buf_init(&im.notes, 64 * 1024);
    int code = 1;
    np_settings *snap = np_config_acquire(cfg);
    char *norm = np_db_url_normalize(np_settings_common(snap)->DATABASE_URL);
    np_settings_release(snap);
    if (!load_keys(&im)) {
        goto cleanup;
    }
    if (cli_oldsrc_open(&im.src, opts->source, im.why, sizeof(im.why)) != NP_ERR_OK) {
        goto cleanup;
    }
    im.db = norm != NULL ? PQconnectdb(norm) : NULL;
    if (im.db == NULL || PQstatus(im.db) != CONNECTION_OK) {
        snprintf(im.why, sizeof(im.why), "DATABASE_URL: the database cannot be reached: %s",
                 im.db ? PQerrorMessage(im.db) : "no memory");
        goto cleanup;
    }
    printf("importing from the earlier pool's database%s\n",
           opts->dry_run ? " (dry run: nothing will be changed)" : "");
    if (run_steps(&im) != NP_ERR_OK) {
        goto cleanup;
    }
    if (im.probe_first > 0) {
        printf("%d contributed keys are probed by health before they serve (their subscription "
               "is checked first)\n",
               im.probe_first);
    }
    if (im.notes.len > 0) {
        printf("to look at:\n%.*s", (int)im.notes.len, (const char *)im.notes.data);
    }
    printf(opts->dry_run ? "dry run: nothing was changed\n" : "import committed\n");
    code = 0;
cleanup:
    if (code != 0) {
        fprintf(stderr, "naipool import: %s; nothing was changed\n", im.why[0] ? im.why : "failed");
    }
    PQfinish(im.db);
    cli_oldsrc_close(im.src);
    np_buf_fini(&im.notes);
    np_wipe(im.enc_key, sizeof(im.enc_key));
    np_wipe(im.old_key, sizeof(im.old_key));
    np_wipe(im.fp_key, sizeof(im.fp_key));
    if (norm != NULL) {
        np_wipe(norm, strlen(norm));
    }
    free(norm);
    return code;
}
