/* The pool instances, one NNG client each. A relayed stream must keep talking to the instance
 * that opened it (relay.next, relay.cancel), so the gateway cannot use one socket spread over
 * every instance for the relay. Instances come from POOL_RPC_URL: a comma list, where a tcp
 * address with a host name stands for every address the name resolves to (a headless Service
 * on Kubernetes gives one per pod; np_addr_expand). The list is resolved again every
 * POOL_RESOLVE_SECONDS: new instances join; vanished ones take no new streams and are closed once
 * their last stream has ended. */
#ifndef GW_PEERS_H
#define GW_PEERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "np/clock.h"
#include "np/config.h"
#include "np/rpc.h"

typedef struct gw_peer gw_peer;

typedef struct {
    pthread_mutex_t mu;
    gw_peer **list;
    int n, cap;
    unsigned next; /* round robin */
    char urls[1024];
    np_rpc_opts opts;
    const np_config *cfg;
    np_ticker *resolver; /* gw_peers_refresh every POOL_RESOLVE_SECONDS */
} gw_peers;

/* gw_peers_open resolves urls, dials each instance and starts re-resolving; why names a
 * failure. p must be zeroed storage; call gw_peers_close afterwards in every case. */
np_err gw_peers_open(gw_peers *p, const np_config *cfg, const char *urls, const np_rpc_opts *opts,
                     char *why, size_t whylen);
void gw_peers_close(gw_peers *p);

/* gw_peers_get lends the instance for a new stream, skipping `avoid` when another exists (a
 * retry after it refused); NULL when there is none. Give it back with gw_peers_put. */
gw_peer *gw_peers_get(gw_peers *p, const gw_peer *avoid);
void gw_peers_put(gw_peers *p, gw_peer *peer);
np_rpc_client *gw_peer_client(const gw_peer *peer);
/* gw_peers_lend_all lends up to max live instances into out (a scrape asks each); returns
 * how many. Give each back with gw_peers_put. */
int gw_peers_lend_all(gw_peers *p, gw_peer **out, int max);
/* gw_peers_count returns how many instances are known (vanished ones included). */
int gw_peers_count(gw_peers *p);
/* gw_peers_connected returns how many known instances have a live NNG connection now. */
int gw_peers_connected(gw_peers *p);

/* gw_peers_refresh resolves the list again now (the resolver thread calls it). */
void gw_peers_refresh(gw_peers *p);

#endif
