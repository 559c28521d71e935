/* The route table (HTTP-API.md). Services answer the "http" operation for their rows. */
#include "routes.h"

#include <string.h>

#include "np/httpop.h"

/* FWD: a route forwarded to svc as the "http" operation; one op per method, in order. */
#define FWD(methods, pattern, svc, auth, group, ...)                                               \
    {                                                                                              \
        methods, pattern, false, GW_H_FORWARD, svc, auth, group,                                   \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

static const gw_route table[] = {
    {"GET,HEAD", "/healthz", false, GW_H_HEALTHZ, GW_SVC_NONE, GW_AUTH_PUBLIC, "healthz", {0}},
    {"GET,HEAD", "/readyz", false, GW_H_READYZ, GW_SVC_NONE, GW_AUTH_PUBLIC, "readyz", {0}},
    {"GET", "/metrics", false, GW_H_METRICS, GW_SVC_NONE, GW_AUTH_PUBLIC, "metrics", {0}},

    FWD("POST", "/auth/register", GW_SVC_AUTH, GW_AUTH_PUBLIC, "auth", NP_OP_AUTH_REGISTER),
    FWD("POST", "/auth/login", GW_SVC_AUTH, GW_AUTH_PUBLIC, "auth", NP_OP_AUTH_LOGIN),
    FWD("GET", "/auth/me", GW_SVC_AUTH, GW_AUTH_RELAY, "auth", NP_OP_AUTH_ME),
    FWD("POST", "/auth/password", GW_SVC_AUTH, GW_AUTH_USER, "auth", NP_OP_AUTH_PASSWORD),
    FWD("GET,POST", "/client-keys", GW_SVC_AUTH, GW_AUTH_USER, "client_keys",
        NP_OP_CLIENT_KEYS_LIST, NP_OP_CLIENT_KEYS_CREATE),
    FWD("PATCH,DELETE", "/client-keys/{id}", GW_SVC_AUTH, GW_AUTH_USER, "client_keys",
        NP_OP_CLIENT_KEY_UPDATE, NP_OP_CLIENT_KEY_DELETE),

    FWD("GET,POST", "/keys", GW_SVC_POOL, GW_AUTH_USER, "keys", NP_OP_KEYS_LIST, NP_OP_KEYS_ADD),
    FWD("PATCH,DELETE", "/keys/{id}", GW_SVC_POOL, GW_AUTH_USER, "keys", NP_OP_KEY_UPDATE,
        NP_OP_KEY_DELETE),

    FWD("GET", "/logs", GW_SVC_AUDIT, GW_AUTH_USER, "logs", NP_OP_LOGS),
    FWD("GET", "/logs/stats", GW_SVC_AUDIT, GW_AUTH_USER, "logs", NP_OP_LOGS_STATS),

    FWD("GET", "/admin/users", GW_SVC_AUTH, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_USERS_LIST),
    FWD("PATCH", "/admin/users/{id}", GW_SVC_AUTH, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_USER_UPDATE),
    FWD("DELETE", "/admin/users/{id}/relay-keys", GW_SVC_AUTH, GW_AUTH_ADMIN, "admin",
        NP_OP_ADMIN_USER_REVOKE_KEYS),
    FWD("GET", "/admin/keys", GW_SVC_POOL, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_KEYS_LIST),
    FWD("PATCH", "/admin/keys/{id}", GW_SVC_POOL, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_KEY_UPDATE),
    FWD("POST", "/admin/keys/{id}/check", GW_SVC_HEALTH, GW_AUTH_ADMIN, "admin",
        NP_OP_ADMIN_KEY_CHECK),
    FWD("GET", "/admin/logs", GW_SVC_AUDIT, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_LOGS),
    FWD("GET", "/admin/audit", GW_SVC_AUDIT, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_AUDIT),
    FWD("GET,PUT,POST", "/admin/config", GW_SVC_POOL, GW_AUTH_ADMIN, "admin",
        NP_OP_ADMIN_CONFIG_GET, NP_OP_ADMIN_CONFIG_PUT, NP_OP_ADMIN_CONFIG_POST),
    FWD("GET,POST", "/admin/proxies", GW_SVC_POOL, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_PROXIES_LIST,
        NP_OP_ADMIN_PROXIES_ADD),
    FWD("PATCH,DELETE", "/admin/proxies/{id}", GW_SVC_POOL, GW_AUTH_ADMIN, "admin",
        NP_OP_ADMIN_PROXY_UPDATE, NP_OP_ADMIN_PROXY_DELETE),
    FWD("GET", "/admin/proxy-pool", GW_SVC_POOL, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_PROXY_POOL),
    FWD("POST", "/admin/keys/{id}/toggle", GW_SVC_POOL, GW_AUTH_ADMIN, "admin",
        NP_OP_ADMIN_KEY_TOGGLE),
    FWD("POST", "/admin/health-check", GW_SVC_HEALTH, GW_AUTH_ADMIN, "admin",
        NP_OP_ADMIN_HEALTH_CHECK),
    FWD("GET", "/admin/nodes", GW_SVC_HEALTH, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_NODES),
    FWD("GET", "/admin/stats", GW_SVC_POOL, GW_AUTH_ADMIN, "admin", NP_OP_ADMIN_STATS),

    {"GET,POST,PUT,PATCH,DELETE",
     "/v1/novelai/",
     true,
     GW_H_RELAY,
     GW_SVC_POOL,
     GW_AUTH_RELAY,
     "relay",
     {0}},
};

/* method_at returns the index of m in the comma-separated methods, -1 when absent. */
static int
method_at(const char *methods, const char *m, size_t mlen)
{
    const char *p = methods;
    for (int i = 0; *p; i++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == mlen && strncmp(p, m, n) == 0) {
            return i;
        }
        p += n + (comma != NULL);
    }
    return -1;
}

const gw_route *
gw_route_find(const char *method, size_t mlen, const char *path, size_t plen, const char **allow)
{
    char p[512];
    if (plen >= sizeof(p)) {
        return NULL;
    }
    memcpy(p, path, plen);
    p[plen] = '\0';
    *allow = NULL;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const gw_route *r = &table[i];
        bool hit = r->prefix ? strncmp(p, r->pattern, strlen(r->pattern)) == 0
                             : np_path_match(r->pattern, p, NULL);
        if (!hit) {
            continue;
        }
        if (method_at(r->methods, method, mlen) >= 0) {
            return r;
        }
        *allow = r->methods;
    }
    return NULL;
}

np_http_op
gw_route_op(const gw_route *r, const char *method, size_t mlen)
{
    int i = r->handler == GW_H_FORWARD ? method_at(r->methods, method, mlen) : -1;
    return i >= 0 && i < (int)(sizeof(r->ops) / sizeof(r->ops[0])) ? r->ops[i] : NP_OP_NONE;
}

const gw_route *
gw_routes(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

bool
gw_route_is_api(const char *path, size_t plen)
{
    static const char *const prefixes[] = {"/auth", "/client-keys", "/keys",   "/logs",    "/admin",
                                           "/v1",   "/healthz",     "/readyz", "/metrics", NULL};
    for (int i = 0; prefixes[i] != NULL; i++) {
        size_t n = strlen(prefixes[i]);
        if (plen >= n && strncmp(path, prefixes[i], n) == 0 &&
            (plen == n || path[n] == '/' || path[n] == '?')) {
            return true;
        }
    }
    return false;
}
