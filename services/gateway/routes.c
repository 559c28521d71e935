/* The route table (HTTP-API.md). Services answer the "http" operation for their rows. */
#include "routes.h"

#include <string.h>

#include "np/httpop.h"

static const gw_route table[] = {
    {"GET,HEAD", "/healthz", false, GW_H_HEALTHZ, GW_SVC_NONE, GW_AUTH_PUBLIC, "healthz"},
    {"GET,HEAD", "/readyz", false, GW_H_READYZ, GW_SVC_NONE, GW_AUTH_PUBLIC, "readyz"},
    {"GET", "/metrics", false, GW_H_METRICS, GW_SVC_NONE, GW_AUTH_PUBLIC, "metrics"},

    {"POST", "/auth/register", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_PUBLIC, "auth"},
    {"POST", "/auth/login", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_PUBLIC, "auth"},
    {"GET", "/auth/me", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_RELAY, "auth"},
    {"POST", "/auth/password", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_USER, "auth"},
    {"GET,POST", "/client-keys", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_USER, "client_keys"},
    {"PATCH,DELETE", "/client-keys/{id}", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_USER,
     "client_keys"},

    {"GET,POST", "/keys", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_USER, "keys"},
    {"PATCH,DELETE", "/keys/{id}", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_USER, "keys"},

    {"GET", "/logs", false, GW_H_FORWARD, GW_SVC_AUDIT, GW_AUTH_USER, "logs"},
    {"GET", "/logs/stats", false, GW_H_FORWARD, GW_SVC_AUDIT, GW_AUTH_USER, "logs"},

    {"GET", "/admin/users", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_ADMIN, "admin"},
    {"PATCH", "/admin/users/{id}", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_ADMIN, "admin"},
    {"DELETE", "/admin/users/{id}/relay-keys", false, GW_H_FORWARD, GW_SVC_AUTH, GW_AUTH_ADMIN,
     "admin"},
    {"GET", "/admin/keys", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},
    {"PATCH", "/admin/keys/{id}", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},
    {"POST", "/admin/keys/{id}/check", false, GW_H_FORWARD, GW_SVC_HEALTH, GW_AUTH_ADMIN, "admin"},
    {"GET", "/admin/logs", false, GW_H_FORWARD, GW_SVC_AUDIT, GW_AUTH_ADMIN, "admin"},
    {"GET", "/admin/audit", false, GW_H_FORWARD, GW_SVC_AUDIT, GW_AUTH_ADMIN, "admin"},
    {"GET,PUT,POST", "/admin/config", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},
    {"GET,POST", "/admin/proxies", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},
    {"PATCH,DELETE", "/admin/proxies/{id}", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN,
     "admin"},
    {"GET", "/admin/proxy-pool", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},
    {"POST", "/admin/keys/{id}/toggle", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},
    {"POST", "/admin/health-check", false, GW_H_FORWARD, GW_SVC_HEALTH, GW_AUTH_ADMIN, "admin"},
    {"GET", "/admin/nodes", false, GW_H_FORWARD, GW_SVC_HEALTH, GW_AUTH_ADMIN, "admin"},
    {"GET", "/admin/stats", false, GW_H_FORWARD, GW_SVC_POOL, GW_AUTH_ADMIN, "admin"},

    {"GET,POST,PUT,PATCH,DELETE", "/v1/novelai/", true, GW_H_RELAY, GW_SVC_POOL, GW_AUTH_RELAY,
     "relay"},
};

static bool
method_in(const char *methods, const char *m, size_t mlen)
{
    const char *p = methods;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == mlen && strncmp(p, m, n) == 0) {
            return true;
        }
        p += n + (comma != NULL);
    }
    return false;
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
        if (method_in(r->methods, method, mlen)) {
            return r;
        }
        *allow = r->methods;
    }
    return NULL;
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
