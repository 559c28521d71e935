/* Probing egress proxies with a CONNECT to the image host. */
#include "proxycheck.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/buf.h"
#include "np/log.h"
#include "np/proxy.h"
#include "np/rowcrypt.h"
#include "pool/settings.h"
#include "settings.h"

np_err
health_proxy_due(const health_probe_env *env, int64_t *ids, int max, int *n)
{
    char every[24], lim[24];
    snprintf(every, sizeof(every), "%lld",
             (long long)NP_SETTING_NOW(env->cfg, health, PROXY_CHECK_INTERVAL_SECONDS));
    snprintf(lim, sizeof(lim), "%d", max);
    const char *params[] = {every, lim};
    *n = 0;
    PGconn *c = np_db_acquire(env->db, 5000);
    if (c == NULL) {
        return NP_ERR_DB;
    }
    PGresult *r = NULL;
    np_err err =
        np_db_exec(c,
                   "SELECT id FROM proxies WHERE enabled AND ("
                   "(state IN ('pending', 'active') AND (last_checked_at IS NULL OR "
                   " last_checked_at <= now() - make_interval(secs => $1::int))) OR "
                   "(state = 'cooling' AND (cooldown_until IS NULL OR cooldown_until <= now()))) "
                   "ORDER BY last_checked_at NULLS FIRST, id LIMIT $2::int",
                   2, params, &r);
    for (int i = 0; err == NP_ERR_OK && i < PQntuples(r) && i < max; i++) {
        np_db_row row = np_db_row_at(r, i);
        int64_t id = np_db_int(&row, 0);
        if ((err = row.err) == NP_ERR_OK) {
            ids[(*n)++] = id;
        }
    }
    PQclear(r);
    np_db_release(env->db, c);
    return err;
}

typedef enum { OUT_OK, OUT_429, OUT_5XX, OUT_NETWORK } outcome;

/* connect_through asks the proxy for a tunnel to the image host; latency in ms on success. */
static outcome
connect_through(const char *proxy, const char *target, long timeout_ms, long *latency_ms,
                long *connect_code, char *error, size_t errlen)
{
    CURL *e = curl_easy_init();
    if (e == NULL) {
        snprintf(error, errlen, "out of memory");
        return OUT_NETWORK;
    }
    curl_easy_setopt(e, CURLOPT_URL, target);
    curl_easy_setopt(e, CURLOPT_PROXY, proxy);
    curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    CURLcode rc = curl_easy_perform(e);
    outcome o = OUT_OK;
    if (rc == CURLE_OK) {
        curl_off_t t = 0;
        curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &t);
        *latency_ms = (long)(t / 1000);
    } else {
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE, &code);
        *connect_code = code;
        if (code == 429) {
            o = OUT_429;
            snprintf(error, errlen, "the proxy answered CONNECT with 429");
        } else if (code >= 400) {
            o = OUT_5XX;
            snprintf(error, errlen, "the proxy answered CONNECT with %ld", code);
        } else {
            o = OUT_NETWORK;
            snprintf(error, errlen, "%s", curl_easy_strerror(rc));
        }
    }
    curl_easy_cleanup(e);
    return o;
}

/* proxy_url reads the proxy's URL (decrypting it when it carries credentials). */
static np_err
proxy_url(PGconn *c, const health_probe_env *env, int64_t id, char *out, size_t outlen, char *state,
          size_t slen)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *params[] = {ids};
    PGresult *r = NULL;
    np_err err = np_db_exec(c, "SELECT url_plain, url_sealed, state FROM proxies WHERE id = $1", 1,
                            params, &r);
    if (err == NP_ERR_OK && PQntuples(r) != 1) {
        err = NP_ERR_NOT_FOUND;
    }
    if (err == NP_ERR_OK) {
        snprintf(state, slen, "%s", PQgetvalue(r, 0, 2));
        if (!PQgetisnull(r, 0, 0)) {
            snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
        } else {
            uint8_t key[NP_KEY_LEN];
            size_t blen = 0;
            unsigned char *bin = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &blen);
            np_buf url;
            np_buf_init(&url, 2048);
            err = np_row_key(env->cfg, key);
            if (err == NP_ERR_OK) {
                err = bin == NULL ? NP_ERR_NOMEM
                                  : np_row_open(key, NP_ROW_DOMAIN_PROXY, id, bin, blen, &url);
            }
            if (err == NP_ERR_OK) {
                snprintf(out, outlen, "%s", url.data);
            }
            if (url.data != NULL) {
                np_wipe(url.data, url.len);
            }
            np_buf_fini(&url);
            np_wipe(key, sizeof(key));
            PQfreemem(bin);
        }
    }
    PQclear(r);
    return err;
}

np_err
health_proxy_probe(const health_probe_env *env, int64_t id)
{
    char url[1100] = "", state[16] = "", base[512], error[200] = "";
    np_settings *snap = np_config_acquire(env->cfg);
    const health_settings *hs = NP_SETTINGS_OF(snap, health);
    snprintf(base, sizeof(base), "%s",
             hs->PROXY_CHECK_URL[0] != '\0' ? hs->PROXY_CHECK_URL
                                            : NP_SETTINGS_OF(snap, pool)->NOVELAI_IMAGE_BASE);
    int64_t timeout_s = hs->PROXY_CHECK_TIMEOUT_SECONDS > 0 ? hs->PROXY_CHECK_TIMEOUT_SECONDS
                                                            : hs->HEALTH_PROBE_TIMEOUT_SECONDS;
    const int64_t class_cooldown[] = {0, hs->PROXY_COOLDOWN_429_SECONDS,
                                      hs->PROXY_COOLDOWN_5XX_SECONDS,
                                      hs->PROXY_COOLDOWN_NETWORK_SECONDS};
    int64_t threshold = hs->PROXY_FAIL_THRESHOLD, streak_cap = hs->PROXY_FAIL_STREAK_CAP;
    int64_t cooldown_max = hs->PROXY_COOLDOWN_MAX_SECONDS;
    np_settings_release(snap);
    PGconn *c = np_db_acquire(env->db, 5000);
    if (c == NULL) {
        return NP_ERR_DB;
    }
    np_err err = proxy_url(c, env, id, url, sizeof(url), state, sizeof(state));
    np_db_release(env->db, c);
    if (err != NP_ERR_OK) {
        return err;
    }
    long latency = 0;
    long code = 0;
    outcome o =
        connect_through(url, base, (long)timeout_s * 1000, &latency, &code, error, sizeof(error));
    np_wipe(url, sizeof(url));
    bool counts = o == OUT_OK || np_proxy_failure_counts(env->cfg, o == OUT_NETWORK ? 0 : code);

    static const char *const class_name[] = {"ok", "429", "5xx", "network"};
    char ids[24], lat[24], thr[24], cap[24], base_s[24], max_s[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(lat, sizeof(lat), "%ld", latency);
    snprintf(thr, sizeof(thr), "%lld", (long long)threshold);
    snprintf(cap, sizeof(cap), "%lld", (long long)streak_cap);
    snprintf(base_s, sizeof(base_s), "%lld", (long long)class_cooldown[o]);
    snprintf(max_s, sizeof(max_s), "%lld", (long long)cooldown_max);
    c = np_db_acquire(env->db, 5000);
    if (c == NULL) {
        return NP_ERR_DB;
    }
    PGresult *r = NULL;
    if (!counts) {
        /* UPSTREAM_PROXY_HANDLE_*: this kind of failure does not count against a proxy */
        const char *params[] = {ids, error};
        err = np_db_exec(c,
                         "UPDATE proxies SET last_checked_at = now(), last_error = $2 "
                         "WHERE id = $1 RETURNING state",
                         2, params, &r);
    } else if (o == OUT_OK) {
        const char *params[] = {ids, lat};
        err = np_db_exec(c,
                         "UPDATE proxies SET state = 'active', latency_ms = $2::int, "
                         "fail_streak = 0, cooldown_until = NULL, last_checked_at = now(), "
                         "last_error = NULL WHERE id = $1 AND state <> 'disabled' "
                         "RETURNING state",
                         2, params, &r);
    } else {
        /* Cooldown: base for the class, doubled per failure beyond the threshold. */
        const char *params[] = {ids, error, class_name[o], thr, cap, base_s, max_s};
        err = np_db_exec(
            c,
            "WITH cur AS (SELECT LEAST(fail_streak + 1, $5::int) AS s FROM proxies WHERE id = $1) "
            "UPDATE proxies p SET fail_streak = cur.s, failures_total = failures_total + 1, "
            "last_error = $2, last_checked_at = now(), latency_ms = NULL, "
            "recent_failures = (SELECT COALESCE(jsonb_agg(x), '[]') FROM (SELECT x FROM "
            "  jsonb_array_elements(jsonb_build_array(jsonb_build_object('time', "
            "  to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "  'class', $3::text, 'error', $2::text)) || p.recent_failures) WITH ORDINALITY "
            "  AS t(x, i) ORDER BY i LIMIT 10) y), "
            "state = CASE WHEN cur.s >= $4::int THEN 'cooling' ELSE p.state END, "
            "cooldown_until = CASE WHEN cur.s >= $4::int THEN now() + make_interval(secs => "
            "  LEAST($7::bigint, $6::bigint * power(2, GREATEST(cur.s - $4::int, 0)))) "
            "  ELSE NULL END "
            "FROM cur WHERE p.id = $1 AND p.state <> 'disabled' RETURNING p.state",
            7, params, &r);
    }
    if (err == NP_ERR_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), state) != 0) {
        const char *to = PQgetvalue(r, 0, 0);
        np_log_info("health", "proxy %lld: %s -> %s (%s)", (long long)id, state, to, class_name[o]);
        np_events_emit(env->events, "proxy.state_changed",
                       json_pack("{s:I, s:s, s:s, s:s}", "proxy_id", (json_int_t)id, "from", state,
                                 "to", to, "reason", class_name[o]));
    }
    PQclear(r);
    np_db_release(env->db, c);
    return err;
}
