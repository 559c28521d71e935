/* The subscription probe of one key and the write of its result. */
#include "keyprobe.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keystate.h"
#include "np/buf.h"
#include "np/keyjson.h"
#include "np/log.h"
#include "np/novelai.h"
#include "np/novelai_probe.h"
#include "np/proxy.h"
#include "np/rowcrypt.h"
#include "pool/settings.h"
#include "settings.h"

typedef np_novelai_probe_result probe_answer;

static np_err
lease_take(PGconn *c, const health_probe_env *env, int64_t key_id, bool *taken)
{
    char id[24], secs[24];
    snprintf(id, sizeof(id), "%lld", (long long)key_id);
    snprintf(secs, sizeof(secs), "%lld",
             (long long)NP_SETTING_NOW(env->cfg, health, HEALTH_PROBE_TIMEOUT_SECONDS) * 3 + 5);
    const char *params[] = {id, env->holder, secs};
    PGresult *r = NULL;
    np_err err = np_db_exec(
        c,
        "INSERT INTO key_probes (key_id, holder, expires_at) "
        "SELECT id, $2, now() + make_interval(secs => $3::int) FROM upstream_keys WHERE id = $1 "
        "ON CONFLICT (key_id) DO UPDATE SET holder = EXCLUDED.holder, "
        "expires_at = EXCLUDED.expires_at WHERE key_probes.expires_at <= now() RETURNING key_id",
        3, params, &r);
    *taken = err == NP_ERR_OK && PQntuples(r) == 1;
    PQclear(r);
    return err;
}

static void
lease_drop(PGconn *c, const health_probe_env *env, int64_t key_id)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)key_id);
    const char *params[] = {id, env->holder};
    np_db_exec(c, "DELETE FROM key_probes WHERE key_id = $1 AND holder = $2", 2, params, NULL);
}

/* key_proxy finds the proxy the key leaves through in proxy_pool mode (keeping or updating
 * its sticky assignment) and writes its URL, credentials included, into out. false when the
 * pool is in proxy mode and no proxy is healthy. */
static bool
key_proxy(PGconn *c, const health_probe_env *env, const uint8_t key[NP_KEY_LEN], int64_t key_id,
          char *out, size_t outlen)
{
    out[0] = '\0';
    np_settings *snap = np_config_acquire(env->cfg);
    bool direct = strcmp(NP_SETTINGS_OF(snap, health)->UPSTREAM_PROXY_MODE, "proxy_pool") != 0;
    np_settings_release(snap);
    if (direct) {
        return true;
    }
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)key_id);
    const char *params[] = {id};
    PGresult *r = NULL;
    if (np_db_exec(c,
                   "SELECT p.id, p.url_plain, p.url_sealed, "
                   "COALESCE((SELECT proxy_id FROM proxy_assignments WHERE key_id = $1), 0) "
                   "FROM proxies p WHERE p.enabled AND p.state = 'active' ORDER BY p.id",
                   1, params, &r) != NP_ERR_OK) {
        return false;
    }
    int n = PQntuples(r);
    int64_t *ids = calloc((size_t)(n ? n : 1), sizeof(int64_t));
    np_db_row first = np_db_row_at(r, 0);
    int64_t pick = 0, current = n > 0 ? np_db_int(&first, 3) : 0;
    np_err err = first.err;
    for (int i = 0; ids != NULL && err == NP_ERR_OK && i < n; i++) {
        np_db_row row = np_db_row_at(r, i);
        ids[i] = np_db_int(&row, 0);
        err = row.err;
    }
    if (ids != NULL && err == NP_ERR_OK) {
        pick = np_proxy_pick(key_id, ids, (size_t)n, current);
    }
    bool ok = false;
    for (int i = 0; pick != 0 && i < n; i++) {
        if (ids[i] != pick) {
            continue;
        }
        if (!PQgetisnull(r, i, 1)) {
            snprintf(out, outlen, "%s", PQgetvalue(r, i, 1));
            ok = true;
        } else {
            size_t blen = 0;
            unsigned char *bin = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &blen);
            np_buf url;
            np_buf_init(&url, 2048);
            if (bin != NULL &&
                np_row_open(key, NP_ROW_DOMAIN_PROXY, pick, bin, blen, &url) == NP_ERR_OK) {
                snprintf(out, outlen, "%s", url.data);
                ok = true;
            }
            if (url.data != NULL) {
                np_wipe(url.data, url.len);
            }
            np_buf_fini(&url);
            PQfreemem(bin);
        }
    }
    if (ok && pick != current) {
        char pid[24];
        snprintf(pid, sizeof(pid), "%lld", (long long)pick);
        const char *p2[] = {id, pid};
        np_db_exec(c,
                   "INSERT INTO proxy_assignments (key_id, proxy_id) VALUES ($1, $2) "
                   "ON CONFLICT (key_id) DO UPDATE SET proxy_id = EXCLUDED.proxy_id, "
                   "assigned_at = now()",
                   2, p2, NULL);
    }
    free(ids);
    PQclear(r);
    return ok;
}

/* load_token reads and decrypts the key's token into tok (wipe after use). */
static np_err
load_token(PGconn *c, const uint8_t key[NP_KEY_LEN], int64_t key_id, np_buf *tok)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)key_id);
    const char *params[] = {id};
    PGresult *r = NULL;
    np_err err = np_db_exec(c, "SELECT ciphertext FROM upstream_keys WHERE id = $1", 1, params, &r);
    if (err != NP_ERR_OK) {
        return err;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return NP_ERR_NOT_FOUND;
    }
    size_t blen = 0;
    unsigned char *bin = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &blen);
    err = bin == NULL ? NP_ERR_NOMEM : np_row_open(key, NP_ROW_DOMAIN_KEY, key_id, bin, blen, tok);
    PQfreemem(bin);
    PQclear(r);
    return err;
}

static void
emit_change(const health_probe_env *env, int64_t key_id, const char *from, const char *to,
            const char *reason, bool forced)
{
    json_t *f = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "key_id", (json_int_t)key_id, "from",
                          from, "to", to, "reason", reason, "by", "health", "forced", forced);
    np_events_emit(env->events, "key.state_changed", f);
}

/* write_result gives the lease back and, if it was still ours, applies the probe to the row
 * as it is now (the pool may have changed it meanwhile). */
static np_err
write_result(PGconn *c, const health_probe_env *env, int64_t key_id, bool forced,
             const probe_answer *a)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)key_id);
    const char *p1[] = {id, env->holder};
    PGresult *r = NULL;
    np_err err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err != NP_ERR_OK) {
        return err;
    }
    err = np_db_exec(c,
                     "DELETE FROM key_probes WHERE key_id = $1 AND holder = $2 "
                     "AND expires_at > now() RETURNING key_id",
                     2, p1, &r);
    if (err != NP_ERR_OK || PQntuples(r) != 1) {
        if (err == NP_ERR_OK) {
            np_log_warn("health", "probe of key %lld came back after its lease; discarded",
                        (long long)key_id);
            err = NP_ERR_CONFLICT;
        }
        goto rollback;
    }
    PQclear(r);
    r = NULL;
    const char *p2[] = {id};
    err = np_db_exec(c,
                     "SELECT state, enabled, fail_streak, anlas, spent_since_check FROM "
                     "upstream_keys WHERE id = $1 FOR UPDATE",
                     1, p2, &r);
    if (err != NP_ERR_OK || PQntuples(r) != 1) {
        err = err == NP_ERR_OK ? NP_ERR_NOT_FOUND : err;
        goto rollback;
    }
    char from[16];
    snprintf(from, sizeof(from), "%s", PQgetvalue(r, 0, 0));
    np_db_row row = np_db_row_at(r, 0);
    health_key_now now = {from, np_db_bool(&row, 1), np_db_int(&row, 2)};
    bool had_anlas = !np_db_null(&row, 3);
    long long expected = had_anlas ? np_db_int(&row, 3) : 0;
    long long spent = np_db_int(&row, 4);
    if ((err = row.err) != NP_ERR_OK) {
        goto rollback;
    }
    PQclear(r);
    r = NULL;
    const char *verdict = a->status != 0 ? np_novelai_probe_state(a->status, &a->sub) : NULL;
    np_settings *snap = np_config_acquire(env->cfg);
    const health_settings *hs = NP_SETTINGS_OF(snap, health);
    health_key_rules rules = {
        .threshold = hs->HEALTH_CHECK_FAIL_THRESHOLD,
        .backoff_base = hs->HEALTH_RECHECK_BASE_SECONDS,
        .backoff_max = hs->HEALTH_RECHECK_MAX_SECONDS,
        .forced = forced,
    };
    np_settings_release(snap);
    health_key_next next;
    health_key_decide(&now, verdict, &rules, &next);
    char streak[24], cool[24], tier[8], anlas[24], exp[24], pct[32];
    snprintf(streak, sizeof(streak), "%lld", (long long)next.fail_streak);
    snprintf(cool, sizeof(cool), "%lld", (long long)next.cooldown_s);
    bool sub = a->status == 200 && a->parsed;
    snprintf(tier, sizeof(tier), "%d", a->sub.tier);
    snprintf(anlas, sizeof(anlas), "%lld", (long long)a->sub.anlas);
    snprintf(exp, sizeof(exp), "%lld", (long long)a->sub.expires_at);
    snprintf(pct, sizeof(pct), "%.6f", a->sub.v5_percent);
    const char *p3[] = {id,
                        next.state,
                        streak,
                        next.keep_cooldown ? "keep" : cool,
                        a->error[0] ? a->error : NULL,
                        sub ? "t" : NULL,
                        tier,
                        a->sub.active ? "t" : "f",
                        a->sub.expires_at > 0 ? exp : NULL,
                        anlas,
                        a->sub.v5_negative ? "t" : "f",
                        pct};
    err = np_db_exec(
        c,
        "UPDATE upstream_keys SET state = $2, fail_streak = $3::int, "
        "cooldown_until = CASE WHEN $4 = 'keep' THEN cooldown_until WHEN $4::bigint > 0 "
        "THEN now() + make_interval(secs => $4::bigint) ELSE NULL END, "
        "last_checked_at = now(), last_error = $5, "
        "tier = CASE WHEN $6::boolean THEN $7::int ELSE tier END, "
        "sub_active = CASE WHEN $6::boolean THEN $8::boolean ELSE sub_active END, "
        "expires_at = CASE WHEN $6::boolean THEN to_timestamp($9::bigint) ELSE expires_at END, "
        "anlas = CASE WHEN $6::boolean THEN $10::bigint ELSE anlas END, "
        "v5_negative = CASE WHEN $6::boolean THEN $11::boolean ELSE v5_negative END, "
        "v5_percent = CASE WHEN $6::boolean THEN $12::double precision ELSE v5_percent END, "
        "spent_since_check = CASE WHEN $6::boolean THEN 0 ELSE spent_since_check END "
        "WHERE id = $1",
        12, p3, NULL);
    if (err != NP_ERR_OK) {
        goto rollback;
    }
    if (strcmp(from, next.state) != 0) {
        /* delivered at COMMIT: every pool instance's keyring reloads (pool/keyring.h) */
        err = np_db_exec(c, "NOTIFY pool_keys, 'k'", 0, NULL, NULL);
        if (err != NP_ERR_OK) {
            goto rollback;
        }
    }
    err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    if (err == NP_ERR_OK && sub && had_anlas && expected != (long long)a->sub.anlas) {
        /* the stored balance is the last reading lowered by every estimate since: a
         * difference is a wrong estimate (or the owner spent or bought Anlas meanwhile) */
        np_log_warn("health",
                    "key %lld: the pool expected %lld Anlas (%lld estimated spent through it since "
                    "the last reading), NovelAI reports %lld (%+lld)",
                    (long long)key_id, expected, spent, (long long)a->sub.anlas,
                    (long long)a->sub.anlas - expected);
    }
    if (err == NP_ERR_OK && strcmp(from, next.state) != 0) {
        const char *reason = verdict ? verdict : (a->error[0] ? a->error : "no answer");
        emit_change(env, key_id, from, next.state, reason, forced);
        np_log_info("health", "key %lld: %s -> %s (%s)", (long long)key_id, from, next.state,
                    verdict ? verdict : "no answer");
    }
    return err;
rollback:
    PQclear(r);
    np_db_exec(c, "ROLLBACK", 0, NULL, NULL);
    return err;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

np_err
health_keyprobe_run(const health_probe_env *env, int64_t key_id, bool forced, json_t **key_out)
{
    uint8_t key[NP_KEY_LEN];
    np_buf tok;
    np_buf_init(&tok, 4096);
    char proxy[1100] = "";
    bool leased = false;
    np_err err = np_row_key(env->cfg, key);
    PGconn *c = err == NP_ERR_OK ? np_db_acquire(env->db, 5000) : NULL;
    if (err == NP_ERR_OK && c == NULL) {
        err = NP_ERR_DB;
    }
    long timeout_ms = (long)NP_SETTING_NOW(env->cfg, health, HEALTH_PROBE_TIMEOUT_SECONDS) * 1000;
    /* 1. the lease: a forced check waits for a running probe of the key to finish */
    for (long waited = 0; err == NP_ERR_OK; waited += 100) {
        err = lease_take(c, env, key_id, &leased);
        if (err != NP_ERR_OK || leased) {
            break;
        }
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)key_id);
        const char *params[] = {id};
        PGresult *r = NULL;
        err = np_db_exec(c, "SELECT 1 FROM upstream_keys WHERE id = $1", 1, params, &r);
        if (err == NP_ERR_OK && PQntuples(r) != 1) {
            err = NP_ERR_NOT_FOUND;
        }
        PQclear(r);
        /* The rpc deadline bounds the wait too: give up well before it. */
        if (err == NP_ERR_OK && (!forced || waited >= 3000)) {
            err = NP_ERR_CONFLICT;
        }
        if (err != NP_ERR_OK) {
            break;
        }
        sleep_ms(100);
    }
    /* 2. the token and the egress */
    if (err == NP_ERR_OK) {
        err = load_token(c, key, key_id, &tok);
    }
    if (err == NP_ERR_OK && !key_proxy(c, env, key, key_id, proxy, sizeof(proxy))) {
        err = NP_ERR_UNAVAILABLE; /* proxy_pool mode without a healthy proxy: no probe */
    }
    /* 3. the probe itself, without holding a connection */
    if (err == NP_ERR_OK) {
        np_db_release(env->db, c);
        c = NULL;
        np_settings *snap = np_config_acquire(env->cfg);
        probe_answer a;
        memset(&a, 0, sizeof(a));
        np_novelai_probe(NP_SETTINGS_OF(snap, pool)->NOVELAI_IMAGE_BASE, tok.data, proxy,
                         timeout_ms, &a);
        np_settings_release(snap);
        np_wipe(tok.data, tok.len);
        np_wipe(proxy, sizeof(proxy));
        c = np_db_acquire(env->db, 5000);
        err = c == NULL ? NP_ERR_DB : write_result(c, env, key_id, forced, &a);
        leased = leased && err != NP_ERR_OK && err != NP_ERR_CONFLICT;
    }
    /* 4. the answer */
    if (err == NP_ERR_OK && key_out != NULL) {
        err = health_key_json(c, key_id, key_out);
    }
    if (leased && c != NULL) {
        lease_drop(c, env, key_id);
    }
    if (c != NULL) {
        np_db_release(env->db, c);
    }
    if (tok.data != NULL) {
        np_wipe(tok.data, tok.len);
    }
    np_buf_fini(&tok);
    np_wipe(key, sizeof(key));
    return err;
}

np_err
health_key_json(PGconn *conn, int64_t key_id, json_t **out)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)key_id);
    const char *params[] = {id};
    PGresult *r = NULL;
    np_err err =
        np_db_exec(conn, "SELECT " NP_KEY_ADMIN_JSON " FROM " NP_KEY_ADMIN_FROM " WHERE k.id = $1",
                   1, params, &r);
    if (err != NP_ERR_OK) {
        return err;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return NP_ERR_NOT_FOUND;
    }
    *out = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    return *out != NULL ? NP_ERR_OK : NP_ERR_NOMEM;
}
