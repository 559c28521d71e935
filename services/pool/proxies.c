/* Egress proxies: CRUD, sealed credentials and the sticky per-key choice. */
#include "proxies.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health/settings.h"
#include "np/clock.h"
#include "np/json.h"
#include "np/log.h"
#include "np/proxy.h"
#include "np/request.h"
#include "np/rowcrypt.h"

typedef struct {
    int64_t id;
    bool healthy;        /* enabled and state active, as health last saw it */
    time_t failed_until; /* reported failing here */
    char *url;           /* decrypted; wiped on free */
} cached_proxy;

typedef struct {
    int64_t key_id, proxy_id;
} assignment;

struct pool_proxies {
    np_service *svc;
    pthread_mutex_t mu;
    np_ticker *refresher; /* refresh() every 2 s, or at once when kicked */
    cached_proxy *proxies;
    size_t nproxies;
    assignment *assign;
    size_t nassign, capassign;
    assignment pending[256]; /* assignments to write */
    size_t npending;
};

static void
free_proxies(cached_proxy *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].url != NULL) {
            np_wipe(v[i].url, strlen(v[i].url));
            free(v[i].url);
        }
    }
    free(v);
}

static char *
open_url(const np_config *cfg, int64_t id, const char *plain, const char *sealed_text)
{
    if (plain != NULL) {
        return strdup(plain);
    }
    uint8_t key[NP_KEY_LEN];
    size_t blen = 0;
    char *out = NULL;
    unsigned char *bin = PQunescapeBytea((const unsigned char *)sealed_text, &blen);
    np_buf url;
    np_buf_init(&url, 2048);
    if (bin != NULL && np_row_key(cfg, key) == NP_ERR_OK &&
        np_row_open(key, NP_ROW_DOMAIN_PROXY, id, bin, blen, &url) == NP_ERR_OK) {
        out = strdup(url.data);
    }
    if (url.data != NULL) {
        np_wipe(url.data, url.len);
    }
    np_buf_fini(&url);
    np_wipe(key, sizeof(key));
    PQfreemem(bin);
    return out;
}

/* refresh reloads proxies and assignments, after writing the pending assignments. */
static void
refresh(pool_proxies *p)
{
    PGconn *c = np_db_acquire(p->svc->db, 2000);
    if (c == NULL) {
        return;
    }
    assignment batch[256];
    pthread_mutex_lock(&p->mu);
    size_t nbatch = p->npending;
    memcpy(batch, p->pending, nbatch * sizeof(assignment));
    p->npending = 0;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < nbatch; i++) {
        char k[24], v[24];
        snprintf(k, sizeof(k), "%lld", (long long)batch[i].key_id);
        snprintf(v, sizeof(v), "%lld", (long long)batch[i].proxy_id);
        const char *params[] = {k, v};
        np_db_exec(c,
                   "INSERT INTO proxy_assignments (key_id, proxy_id) SELECT $1, $2 WHERE EXISTS "
                   "(SELECT 1 FROM upstream_keys WHERE id = $1) AND EXISTS (SELECT 1 FROM "
                   "proxies WHERE id = $2) ON CONFLICT (key_id) DO UPDATE SET "
                   "proxy_id = EXCLUDED.proxy_id, assigned_at = now()",
                   2, params, NULL);
    }
    PGresult *pr = NULL, *ar = NULL;
    if (np_db_exec(c,
                   "SELECT id, enabled AND state = 'active', url_plain, url_sealed FROM proxies "
                   "ORDER BY id",
                   0, NULL, &pr) != NP_ERR_OK ||
        np_db_exec(c, "SELECT key_id, proxy_id FROM proxy_assignments", 0, NULL, &ar) !=
            NP_ERR_OK) {
        PQclear(pr);
        PQclear(ar);
        np_db_release(p->svc->db, c);
        return;
    }
    size_t n = (size_t)PQntuples(pr), na = (size_t)PQntuples(ar);
    cached_proxy *v = calloc(n ? n : 1, sizeof(*v));
    assignment *a = calloc(na ? na : 1, sizeof(*a));
    np_err err = NP_ERR_OK;
    for (size_t i = 0; v != NULL && err == NP_ERR_OK && i < n; i++) {
        np_db_row row = np_db_row_at(pr, (int)i);
        v[i].id = np_db_int(&row, 0);
        v[i].healthy = np_db_bool(&row, 1);
        if ((err = row.err) != NP_ERR_OK) {
            break;
        }
        v[i].url = open_url(p->svc->cfg, v[i].id,
                            PQgetisnull(pr, (int)i, 2) ? NULL : PQgetvalue(pr, (int)i, 2),
                            PQgetvalue(pr, (int)i, 3));
        v[i].healthy = v[i].healthy && v[i].url != NULL;
    }
    for (size_t i = 0; a != NULL && err == NP_ERR_OK && i < na; i++) {
        np_db_row row = np_db_row_at(ar, (int)i);
        a[i].key_id = np_db_int(&row, 0);
        a[i].proxy_id = np_db_int(&row, 1);
        err = row.err;
    }
    PQclear(pr);
    PQclear(ar);
    np_db_release(p->svc->db, c);
    if (v == NULL || a == NULL || err != NP_ERR_OK) { /* keep the cache we have */
        free_proxies(v, v ? n : 0);
        free(a);
        return;
    }
    pthread_mutex_lock(&p->mu);
    /* Local failure marks survive a refresh. */
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < p->nproxies; k++) {
            if (p->proxies[k].id == v[i].id) {
                v[i].failed_until = p->proxies[k].failed_until;
            }
        }
    }
    cached_proxy *old = p->proxies;
    size_t nold = p->nproxies;
    p->proxies = v;
    p->nproxies = n;
    free(p->assign);
    p->assign = a;
    p->nassign = p->capassign = na;
    /* Writes not yet done must not be forgotten by the fresh copy. */
    for (size_t i = 0; i < p->npending; i++) {
        for (size_t k = 0; k < p->nassign; k++) {
            if (p->assign[k].key_id == p->pending[i].key_id) {
                p->assign[k].proxy_id = p->pending[i].proxy_id;
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    free_proxies(old, nold);
}

static int64_t
refresh_tick(void *arg)
{
    refresh(arg);
    return 0;
}

static void import_env(pool_proxies *p);

np_err
pool_proxies_open(pool_proxies **out, np_service *svc)
{
    pool_proxies *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NP_ERR_NOMEM;
    }
    p->svc = svc;
    pthread_mutex_init(&p->mu, NULL);
    import_env(p);
    refresh(p);
    np_err err = np_ticker_start(&p->refresher, refresh_tick, p, 2000);
    if (err != NP_ERR_OK) {
        free_proxies(p->proxies, p->nproxies);
        free(p->assign);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return err;
    }
    *out = p;
    return NP_ERR_OK;
}

void
pool_proxies_close(pool_proxies *p)
{
    if (p == NULL) {
        return;
    }
    np_ticker_stop(p->refresher);
    free_proxies(p->proxies, p->nproxies);
    free(p->assign);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

np_err
pool_proxies_for_key(pool_proxies *p, int64_t key_id, int64_t *proxy_id, char *url, size_t urllen)
{
    char mode[32];
    url[0] = '\0';
    *proxy_id = 0;
    NP_SETTING_COPY(p->svc->cfg, health, UPSTREAM_PROXY_MODE, mode, sizeof(mode));
    if (strcmp(mode, "proxy_pool") != 0) {
        return NP_ERR_OK;
    }
    time_t now = time(NULL);
    np_err err = NP_ERR_UNAVAILABLE;
    pthread_mutex_lock(&p->mu);
    int64_t ids[256];
    size_t n = 0;
    for (size_t i = 0; i < p->nproxies && n < 256; i++) {
        if (p->proxies[i].healthy && p->proxies[i].failed_until <= now) {
            ids[n++] = p->proxies[i].id;
        }
    }
    int64_t current = 0;
    assignment *slot = NULL;
    for (size_t i = 0; i < p->nassign; i++) {
        if (p->assign[i].key_id == key_id) {
            slot = &p->assign[i];
            current = slot->proxy_id;
        }
    }
    int64_t pick = np_proxy_pick(key_id, ids, n, current);
    for (size_t i = 0; pick != 0 && i < p->nproxies; i++) {
        if (p->proxies[i].id == pick) {
            snprintf(url, urllen, "%s", p->proxies[i].url);
            *proxy_id = pick;
            err = NP_ERR_OK;
        }
    }
    if (err == NP_ERR_OK && pick != current) {
        if (slot != NULL) {
            slot->proxy_id = pick;
        } else if (p->nassign < p->capassign) {
            p->assign[p->nassign++] = (assignment){key_id, pick};
        }
        if (p->npending < sizeof(p->pending) / sizeof(p->pending[0])) {
            p->pending[p->npending++] = (assignment){key_id, pick};
        }
        np_log_info("pool", "key %lld now leaves through proxy %lld", (long long)key_id,
                    (long long)pick);
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

void
pool_proxies_reload(pool_proxies *p)
{
    refresh(p);
}

void
pool_proxies_report_failure(pool_proxies *p, int64_t proxy_id)
{
    time_t until =
        time(NULL) + (time_t)NP_SETTING_NOW(p->svc->cfg, health, PROXY_COOLDOWN_NETWORK_SECONDS);
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nproxies; i++) {
        if (p->proxies[i].id == proxy_id) {
            p->proxies[i].failed_until = until;
        }
    }
    pthread_mutex_unlock(&p->mu);
}

static void
wake(pool_proxies *p)
{
    np_ticker_kick(p->refresher);
}

/* ---- REST ---- */

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
static const char select_cols[] =
    "SELECT p.id, p.display, p.scheme, p.host, p.port, p.note, p.enabled, p.state, "
    "p.latency_ms, p.fail_streak, p.failures_total, p.recent_failures::text, " ISO(
        "p.cooldown_until") ", " ISO("p.last_checked_at") ", p.last_error, " ISO("p.created_"
                                                                                 "at") ", "
                                                                                       "(SELEC"
                                                                                       "T "
                                                                                       "count("
                                                                                       "*) "
                                                                                       "FROM "
                                                                                       "proxy_"
                                                                                       "assign"
                                                                                       "ments "
                                                                                       "a "
                                                                                       "WHERE "
                                                                                       "a."
                                                                                       "proxy_"
                                                                                       "id = "
                                                                                       "p.id),"
                                                                                       " "
                                                                                       "p.url_"
                                                                                       "sealed"
                                                                                       " IS "
                                                                                       "NOT "
                                                                                       "NULL "
                                                                                       "FROM "
                                                                                       "proxie"
                                                                                       "s p";

/* row_json returns row i as JSON, NULL when a cell is not what the columns promise. */
static json_t *
row_json(PGresult *r, int i)
{
    np_db_row row = np_db_row_at(r, i);
#define S(col) (PQgetisnull(r, i, col) ? json_null() : json_string(PQgetvalue(r, i, col)))
#define I(col) (np_db_null(&row, col) ? json_null() : json_integer(np_db_int(&row, col)))
#define B(col) json_boolean(np_db_bool(&row, col))
    json_t *recent = json_loads(PQgetvalue(r, i, 11), 0, NULL);
    json_t *o = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o}",
        "id", I(0), "url", S(1), "scheme", S(2), "host", S(3), "port", I(4), "note", S(5),
        "enabled", B(6), "state", S(7), "latency_ms", I(8), "fail_streak", I(9), "failures", I(10),
        "recent_failures", recent ? recent : json_array(), "cooldown_until", S(12),
        "last_checked_at", S(13), "last_error", S(14), "created_at", S(15), "keys", I(16),
        "has_credentials", B(17));
#undef S
#undef I
#undef B
    if (row.err != NP_ERR_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void
reply_one(PGconn *c, np_rpc_call *call, int64_t id, int status)
{
    char sql[1400], ids[24];
    snprintf(sql, sizeof(sql), "%s WHERE p.id = $1", select_cols);
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *params[] = {ids};
    PGresult *r = NULL;
    np_err err = np_db_exec(c, sql, 1, params, &r);
    json_t *one = err == NP_ERR_OK && PQntuples(r) == 1 ? row_json(r, 0) : NULL;
    if (one == NULL && err == NP_ERR_OK && PQntuples(r) == 1) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
    } else if (one != NULL) {
        np_http_reply_json(call, status, one, NULL);
    } else {
        np_http_reply_err(call, err == NP_ERR_OK ? NP_ERR_NOT_FOUND : err,
                          err == NP_ERR_OK ? "no such proxy" : NULL);
    }
    PQclear(r);
}

static void
list(PGconn *c, np_rpc_call *call)
{
    char sql[1400];
    snprintf(sql, sizeof(sql), "%s ORDER BY p.id", select_cols);
    PGresult *r = NULL;
    np_err err = np_db_exec(c, sql, 0, NULL, &r);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, NULL);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; a != NULL && i < PQntuples(r); i++) {
        json_t *one = row_json(r, i);
        if (one == NULL) {
            json_decref(a);
            a = NULL;
            break;
        }
        json_array_append_new(a, one);
    }
    PQclear(r);
    if (a == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    np_http_reply_json(call, 200, a, NULL);
}

/* store_url writes the URL of row id: sealed when it carries credentials, plain otherwise. */
static np_err
store_url(pool_proxies *p, PGconn *c, int64_t id, const char *url, const np_proxy_url *u)
{
    char ids[24], port[8];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(port, sizeof(port), "%d", u->port);
    np_err err = NP_ERR_OK;
    if (!u->has_credentials) {
        const char *params[] = {ids, url, u->scheme, u->host, port, u->display};
        return np_db_exec(c,
                          "UPDATE proxies SET url_plain = $2, url_sealed = NULL, scheme = $3, "
                          "host = $4, port = $5::int, display = $6 WHERE id = $1",
                          6, params, NULL);
    }
    uint8_t key[NP_KEY_LEN];
    np_buf sealed, hex;
    np_buf_init(&sealed, 4096);
    np_buf_init(&hex, 8192);
    err = np_row_key(p->svc->cfg, key);
    if (err == NP_ERR_OK) {
        err = np_row_seal(key, NP_ROW_DOMAIN_PROXY, id, url, strlen(url), &sealed);
    }
    if (err == NP_ERR_OK) {
        err = np_buf_reserve(&hex, 2 * sealed.len + 3);
    }
    if (err == NP_ERR_OK) {
        hex.data[0] = '\\';
        hex.data[1] = 'x';
        np_hex(sealed.data, sealed.len, hex.data + 2);
        hex.len = 2 + 2 * sealed.len;
        const char *params[] = {ids, hex.data, u->scheme, u->host, port, u->display};
        err = np_db_exec(c,
                         "UPDATE proxies SET url_sealed = $2::bytea, url_plain = NULL, "
                         "scheme = $3, host = $4, port = $5::int, display = $6 WHERE id = $1",
                         6, params, NULL);
    }
    np_wipe(key, sizeof(key));
    np_buf_fini(&sealed);
    np_buf_fini(&hex);
    return err;
}

static void
emit(pool_proxies *p, const char *type, const np_http_req *r, int64_t id, const char *display)
{
    np_events_emit(p->svc->events, type,
                   json_pack("{s:I, s:I, s:s}", "actor_user_id", (json_int_t)r->user_id, "proxy_id",
                             (json_int_t)id, "url", display));
}

/* write creates (id 0) or changes a proxy from the request body. */
/* import_env brings the old pool's UPSTREAM_PROXIES (comma separated URLs) into the proxy
 * table when the table holds none of them, in one transaction under an advisory lock so two
 * instances starting together import once. A URL that does not parse is named (by position,
 * never by its text: it may carry credentials) and skipped. */
static void
import_env(pool_proxies *p)
{
    np_settings *snap = np_config_acquire(p->svc->cfg);
    char *list = strdup(NP_SETTINGS_OF(snap, health)->UPSTREAM_PROXIES);
    np_settings_release(snap);
    PGconn *c = NULL;
    if (list == NULL || list[0] == '\0') {
        goto done;
    }
    c = np_db_acquire(p->svc->db, 5000);
    np_err err = c != NULL ? np_db_exec(c, "BEGIN", 0, NULL, NULL) : NP_ERR_DB;
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "SELECT pg_advisory_xact_lock(hashtext('naipool.proxy_import'))", 0,
                         NULL, NULL);
    }
    int pos = 0, added = 0, held = 0;
    char *save = NULL;
    for (char *url = strtok_r(list, ",", &save); err == NP_ERR_OK && url != NULL;
         url = strtok_r(NULL, ",", &save)) {
        while (*url == ' ' || *url == '\t') {
            url++;
        }
        size_t n = strlen(url);
        while (n > 0 && (url[n - 1] == ' ' || url[n - 1] == '\t')) {
            url[--n] = '\0';
        }
        pos++;
        np_proxy_url u;
        char why[200];
        if (n == 0 || !np_proxy_url_parse(url, &u, why, sizeof(why))) {
            np_log_warn("pool", "UPSTREAM_PROXIES entry %d is not a proxy URL; skipped", pos);
            continue;
        }
        PGresult *r = NULL;
        const char *params[] = {u.display};
        err = np_db_exec(c, "SELECT 1 FROM proxies WHERE display = $1", 1, params, &r);
        bool known = err == NP_ERR_OK && PQntuples(r) > 0;
        PQclear(r);
        if (known) {
            held++;
            continue;
        }
        r = NULL;
        const char *ins[] = {u.scheme, u.host, u.display};
        err = np_db_exec(c,
                         "INSERT INTO proxies (scheme, host, port, display, note, enabled, state) "
                         "VALUES ($1, $2, 1, $3, 'UPSTREAM_PROXIES', true, 'pending') "
                         "RETURNING id",
                         3, ins, &r);
        np_db_row row = np_db_row_at(r, 0);
        int64_t id = err == NP_ERR_OK ? np_db_int(&row, 0) : 0;
        err = err == NP_ERR_OK ? row.err : err;
        PQclear(r);
        if (err == NP_ERR_OK) {
            err = store_url(p, c, id, url, &u);
            added++;
        }
    }
    if (err == NP_ERR_OK && held > 0 && added > 0) {
        err = NP_ERR_CONFLICT; /* the table holds some of them already: import nothing */
    }
    if (c != NULL) {
        np_db_exec(c, err == NP_ERR_OK ? "COMMIT" : "ROLLBACK", 0, NULL, NULL);
    }
    if (err == NP_ERR_OK && added > 0) {
        np_log_info("pool", "UPSTREAM_PROXIES: %d proxies imported into /admin/proxies", added);
    } else if (err == NP_ERR_CONFLICT || (err == NP_ERR_OK && held > 0)) {
        np_log_info("pool", "UPSTREAM_PROXIES: the proxy table already holds them; nothing "
                            "imported");
    } else if (err != NP_ERR_OK) {
        np_log_warn("pool", "UPSTREAM_PROXIES could not be imported: %s", np_err_message(err));
    }
done:
    np_db_release(p->svc->db, c);
    if (list != NULL) {
        np_wipe(list, strlen(list));
    }
    free(list);
}

static void
write_proxy(pool_proxies *p, PGconn *c, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    static const char *const fields[] = {"url", "note", "enabled", NULL};
    char why[300] = "";
    json_t *body = NULL;
    const char *url = NULL, *note = NULL;
    bool has_url = false, has_note = false, has_enabled = false, enabled = true;
    np_proxy_url u;
    np_err err = np_request_body_parse(r, fields, &body, why, sizeof(why));
    if (err == NP_ERR_OK) {
        err = np_json_str(body, "url", id == 0, 1, 1000, &url, &has_url, why, sizeof(why));
    }
    if (err == NP_ERR_OK) {
        err = np_json_str(body, "note", false, 0, 200, &note, &has_note, why, sizeof(why));
    }
    if (err == NP_ERR_OK) {
        err = np_json_bool(body, "enabled", false, &enabled, &has_enabled, why, sizeof(why));
    }
    if (err == NP_ERR_OK && has_url && !np_proxy_url_parse(url, &u, why, sizeof(why))) {
        err = NP_ERR_INVALID;
    }
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err == NP_ERR_BAD_JSON ? err : NP_ERR_INVALID, why);
        goto cleanup;
    }
    char ids[24];
    err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err == NP_ERR_OK && id == 0) {
        PGresult *res = NULL;
        const char *params[] = {u.scheme, u.host, u.display, has_note ? note : "",
                                has_enabled && !enabled ? "f" : "t"};
        err = np_db_exec(c,
                         "INSERT INTO proxies (scheme, host, port, display, note, enabled, state) "
                         "VALUES ($1, $2, 1, $3, $4, $5::boolean, CASE WHEN $5::boolean THEN "
                         "'pending' ELSE 'disabled' END) RETURNING id",
                         5, params, &res);
        if (err == NP_ERR_OK) {
            np_db_row row = np_db_row_at(res, 0);
            id = np_db_int(&row, 0);
            err = row.err;
        }
        PQclear(res);
    } else if (err == NP_ERR_OK) {
        snprintf(ids, sizeof(ids), "%lld", (long long)id);
        PGresult *res = NULL;
        const char *params[] = {ids, has_note ? note : NULL,
                                has_enabled ? (enabled ? "t" : "f") : NULL, has_url ? "t" : "f"};
        err = np_db_exec(c,
                         "UPDATE proxies SET note = COALESCE($2, note), "
                         "enabled = COALESCE($3::boolean, enabled), "
                         "state = CASE WHEN $3::boolean IS FALSE THEN 'disabled' "
                         "WHEN $3::boolean OR $4::boolean THEN CASE WHEN state = 'disabled' OR "
                         "$4::boolean THEN 'pending' ELSE state END ELSE state END, "
                         "fail_streak = CASE WHEN $4::boolean THEN 0 ELSE fail_streak END "
                         "WHERE id = $1 RETURNING id",
                         4, params, &res);
        if (err == NP_ERR_OK && PQntuples(res) != 1) {
            err = NP_ERR_NOT_FOUND;
        }
        PQclear(res);
    }
    if (err == NP_ERR_OK && has_url) {
        err = store_url(p, c, id, url, &u);
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    }
    if (err != NP_ERR_OK) {
        np_db_exec(c, "ROLLBACK", 0, NULL, NULL);
        np_http_reply_err(call, err, err == NP_ERR_NOT_FOUND ? "no such proxy" : NULL);
        goto cleanup;
    }
    bool added = r->op == NP_OP_ADMIN_PROXIES_ADD;
    emit(p, added ? "proxy.added" : "proxy.updated", r, id, has_url ? u.display : "");
    wake(p);
    reply_one(c, call, id, added ? 201 : 200);
cleanup:
    json_decref(body);
}

static void
delete_proxy(pool_proxies *p, PGconn *c, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *params[] = {ids};
    PGresult *res = NULL;
    np_err err =
        np_db_exec(c, "DELETE FROM proxies WHERE id = $1 RETURNING display", 1, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 1) {
        emit(p, "proxy.deleted", r, id, PQgetvalue(res, 0, 0));
        wake(p);
        np_http_reply_json(call, 204, NULL, NULL);
    } else {
        np_http_reply_err(call, err == NP_ERR_OK ? NP_ERR_NOT_FOUND : err,
                          err == NP_ERR_OK ? "no such proxy" : NULL);
    }
    PQclear(res);
}

bool
pool_proxies_serve(pool_proxies *p, np_rpc_call *call, const np_http_req *r)
{
    /* GET /admin/proxy-pool: the earlier pool's name for the list. */
    np_http_op op = r->op;
    if (op != NP_OP_ADMIN_PROXIES_LIST && op != NP_OP_ADMIN_PROXY_POOL &&
        op != NP_OP_ADMIN_PROXIES_ADD && op != NP_OP_ADMIN_PROXY_UPDATE &&
        op != NP_OP_ADMIN_PROXY_DELETE) {
        return false;
    }
    int64_t id = r->id;
    PGconn *c = np_db_acquire(p->svc->db, 5000);
    if (c == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return true;
    }
    if (op == NP_OP_ADMIN_PROXIES_LIST || op == NP_OP_ADMIN_PROXY_POOL) {
        list(c, call);
    } else if (op == NP_OP_ADMIN_PROXIES_ADD || op == NP_OP_ADMIN_PROXY_UPDATE) {
        write_proxy(p, c, call, r, id);
    } else {
        delete_proxy(p, c, call, r, id);
    }
    np_db_release(p->svc->db, c);
    return true;
}
