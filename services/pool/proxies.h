/* The egress proxy pool (failover, not limit evasion): /admin/proxies CRUD, credentials
 * sealed at rest (AES-256-GCM under ENCRYPTION_KEY, bound to the row) and masked in every
 * answer, and the choice of proxy for a transfer. In UPSTREAM_PROXY_MODE=proxy_pool each
 * NovelAI key sticks to one healthy proxy (an account keeps one egress) and moves to the
 * next healthy one only when its proxy fails (np_proxy_pick); health probes the proxies and
 * sets their state. The choice is made from an in-memory copy of the proxies and of the
 * key-to-proxy assignments that a thread of its own refreshes every 2 s, so
 * pool_proxies_for_key never blocks and may be called from any thread. */
#ifndef POOL_PROXIES_H
#define POOL_PROXIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/httpop.h"
#include "np/service.h"

typedef struct pool_proxies pool_proxies;

/* pool_proxies_open loads the proxies and starts the refresh thread; svc must outlive it. */
np_err pool_proxies_open(pool_proxies **out, np_service *svc);
/* pool_proxies_close stops the thread and wipes the decrypted URLs; NULL is accepted. */
void pool_proxies_close(pool_proxies *p);

/* pool_proxies_for_key writes the proxy URL for a transfer of key_id (credentials included:
 * pass it to CURLOPT_PROXY, wipe it after) into url and its id into *proxy_id. Direct mode:
 * NP_ERR_OK with url "" and id 0 (set CURLOPT_PROXY to "" so no environment proxy is used).
 * NP_ERR_UNAVAILABLE in proxy_pool mode when no proxy is healthy (do not fall back to a
 * direct connection). Never blocks. */
np_err pool_proxies_for_key(pool_proxies *p, int64_t key_id, int64_t *proxy_id, char *url,
                            size_t urllen);
/* pool_proxies_reload reads the proxies and assignments again now, as the refresh thread
 * does every 2 s (blocking SQL: not from an NNG callback or the curl thread). */
void pool_proxies_reload(pool_proxies *p);

/* pool_proxies_report_failure: a transfer through proxy_id failed at the proxy (connect
 * refused, CURLE_COULDNT_RESOLVE_PROXY, CURLE_PROXY, a refused tunnel): this instance stops
 * choosing it for PROXY_COOLDOWN_NETWORK_SECONDS, so its keys move on until health has
 * probed it again. Never blocks. */
void pool_proxies_report_failure(pool_proxies *p, int64_t proxy_id);

/* pool_proxies_serve answers r when its op is one of /admin/proxies, /admin/proxies/{id} or
 * /admin/proxy-pool and returns true; false (nothing answered) otherwise. The caller has checked r
 * comes from an admin. */
bool pool_proxies_serve(pool_proxies *p, np_rpc_call *call, const np_http_req *r);

#endif
