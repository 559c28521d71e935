/* Egress proxies (DESIGN.md: failover, not limit evasion): URL checks and masking, and the
 * rule that keeps each NovelAI key on one healthy proxy. Pure functions, used by the pool
 * (CRUD, transfers) and by health (probes). */
#ifndef NP_PROXY_H
#define NP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/config.h"

typedef struct {
    char scheme[8]; /* "http", "https", "socks5" or "socks5h" */
    char host[256];
    int port;
    bool has_credentials;
    char display[512]; /* scheme://user:****@host:port, or without credentials */
} np_proxy_url;

/* np_proxy_url_parse checks url (http://, https://, socks5:// or socks5h://, a host, an
 * optional port 1..65535 and user:password@, nothing after the authority but "/") and
 * fills out; false with a sentence in why otherwise. */
bool np_proxy_url_parse(const char *url, np_proxy_url *out, char *why, size_t whylen);

/* np_proxy_pick chooses the proxy of key_id among the healthy ones (ids, n): current when it
 * is still healthy, otherwise the healthy one ranking highest for this key (rendezvous
 * hashing, so every instance picks the same one and keys spread evenly). 0 when none. */
int64_t np_proxy_pick(int64_t key_id, const int64_t *ids, size_t n, int64_t current);

/* np_proxy_cooldown is the cooldown in seconds after a failed probe: base doubled for each
 * failure beyond the threshold (streak capped at cap), at most max. */
int64_t np_proxy_cooldown(int64_t base, int64_t streak, int64_t threshold, int64_t cap,
                          int64_t max);

/* np_proxy_failure_counts: whether a failure seen through a proxy counts against it, by the
 * switches UPSTREAM_PROXY_HANDLE_429, _5XX and _NETWORK_ERRORS. connect_code is the proxy's
 * answer to CONNECT (0: none, a network error). */
bool np_proxy_failure_counts(const np_config *cfg, long connect_code);

#endif
