/* Proxy URL checks, masking and the sticky key-to-proxy choice. */
#include "np/proxy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
np_proxy_url_parse(const char *url, np_proxy_url *out, char *why, size_t whylen)
{
    static const struct {
        const char *prefix;
        const char *scheme;
        int port;
    } schemes[] = {{"http://", "http", 80},
                   {"https://", "https", 443},
                   {"socks5://", "socks5", 1080},
                   {"socks5h://", "socks5h", 1080}};
    memset(out, 0, sizeof(*out));
    size_t len = strlen(url);
    if (len == 0 || len > 1000) {
        snprintf(why, whylen, "the proxy URL must be 1 to 1000 characters");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
            snprintf(why, whylen, "the proxy URL must not contain spaces or control characters");
            return false;
        }
    }
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && rest == NULL; i++) {
        size_t pl = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, pl) == 0) {
            rest = url + pl;
            snprintf(out->scheme, sizeof(out->scheme), "%s", schemes[i].scheme);
            out->port = schemes[i].port;
        }
    }
    if (rest == NULL) {
        snprintf(why, whylen,
                 "the proxy URL must start with http://, https://, socks5:// or "
                 "socks5h://");
        return false;
    }
    size_t alen = strcspn(rest, "/?#");
    if (rest[alen] != '\0' && strcmp(rest + alen, "/") != 0) {
        snprintf(why, whylen, "the proxy URL must not have a path, a query or a fragment");
        return false;
    }
    const char *at = memrchr(rest, '@', alen);
    const char *hostpart = rest;
    char user[128] = "";
    if (at != NULL) {
        size_t ulen = strcspn(rest, ":@");
        if (ulen == 0 || ulen >= sizeof(user)) {
            snprintf(why, whylen, "the proxy URL's user name must be 1 to 127 characters");
            return false;
        }
        memcpy(user, rest, ulen);
        out->has_credentials = true;
        hostpart = at + 1;
    }
    size_t hlen = alen - (size_t)(hostpart - rest);
    const char *colon = NULL;
    const char *hs = hostpart, *he = hostpart + hlen;
    if (hlen > 0 && hostpart[0] == '[') {
        const char *close = memchr(hostpart, ']', hlen);
        if (close == NULL) {
            snprintf(why, whylen, "the proxy URL's IPv6 host is missing its ']'");
            return false;
        }
        he = close + 1;
        if (he < hostpart + hlen) {
            if (*he != ':') {
                snprintf(why, whylen, "the proxy URL's host is malformed");
                return false;
            }
            colon = he;
        }
    } else {
        colon = memchr(hostpart, ':', hlen);
        if (colon != NULL) {
            he = colon;
        }
    }
    size_t host_len = (size_t)(he - hs);
    if (host_len == 0 || host_len >= sizeof(out->host)) {
        snprintf(why, whylen, "the proxy URL has no host");
        return false;
    }
    for (size_t i = 0; i < host_len; i++) {
        char c = hs[i];
        if (!(isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' || c == ':' ||
              c == '[' || c == ']')) {
            snprintf(why, whylen, "the proxy URL's host has a character a host cannot have");
            return false;
        }
    }
    memcpy(out->host, hs, host_len);
    if (colon != NULL) {
        const char *ps = colon + 1;
        size_t plen = (size_t)(hostpart + hlen - ps);
        char digits[8] = "";
        if (plen == 0 || plen > 5) {
            snprintf(why, whylen, "the proxy URL's port must be 1 to 65535");
            return false;
        }
        memcpy(digits, ps, plen);
        long p = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)digits[i])) {
                snprintf(why, whylen, "the proxy URL's port must be 1 to 65535");
                return false;
            }
            p = p * 10 + (digits[i] - '0');
        }
        if (p < 1 || p > 65535) {
            snprintf(why, whylen, "the proxy URL's port must be 1 to 65535");
            return false;
        }
        out->port = (int)p;
    }
    if (out->has_credentials) {
        snprintf(out->display, sizeof(out->display), "%s://%s:****@%s:%d", out->scheme, user,
                 out->host, out->port);
    } else {
        snprintf(out->display, sizeof(out->display), "%s://%s:%d", out->scheme, out->host,
                 out->port);
    }
    memset(user, 0, sizeof(user));
    return true;
}

/* mix is splitmix64's finaliser: a cheap hash with good spread. */
static uint64_t
mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int64_t
np_proxy_pick(int64_t key_id, const int64_t *ids, size_t n, int64_t current)
{
    int64_t best = 0;
    uint64_t best_w = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == current && current != 0) {
            return current; /* stick while it is healthy */
        }
        uint64_t w = mix(mix((uint64_t)key_id) ^ (uint64_t)ids[i]);
        if (best == 0 || w > best_w) {
            best = ids[i];
            best_w = w;
        }
    }
    return best;
}

int64_t
np_proxy_cooldown(int64_t base, int64_t streak, int64_t threshold, int64_t cap, int64_t max)
{
    if (streak > cap) {
        streak = cap;
    }
    int64_t extra = streak - threshold;
    if (extra < 0) {
        extra = 0;
    }
    int64_t v = base;
    for (int64_t i = 0; i < extra && v < max; i++) {
        v *= 2;
    }
    return v < max ? v : max;
}

bool
np_proxy_failure_counts(const np_config *cfg, long connect_code)
{
    np_settings *snap = np_config_acquire(cfg);
    const np_common_settings *cs = np_settings_common(snap);
    bool counts = connect_code == 429 ? cs->UPSTREAM_PROXY_HANDLE_429
                  : connect_code > 0  ? cs->UPSTREAM_PROXY_HANDLE_5XX
                                      : cs->UPSTREAM_PROXY_HANDLE_NETWORK_ERRORS;
    np_settings_release(snap);
    return counts;
}
