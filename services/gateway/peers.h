/* The pool instances, one NNG client each. A relayed stream must keep talking to the instance
 * that opened it (relay.next, relay.cancel), so the gateway cannot use one socket spread over
 * every instance for the relay. Instances come from POOL_RPC_URL: a comma list, where a tcp
 * address with a host name stands for every address the name resolves to (a headless Service
 * on Kubernetes gives one per pod). */
#ifndef GW_PEERS_H
#define GW_PEERS_H

#include <stdatomic.h>
#include <stddef.h>

#include "np/rpc.h"

typedef struct {
    np_rpc_client **clients;
    int n;
    atomic_uint next; /* round robin for relay.open */
} gw_peers;

/* gw_peers_open resolves urls and dials each instance; why names a failure. */
np_err gw_peers_open(gw_peers *p, const char *urls, const np_rpc_opts *opts, char *why,
                     size_t whylen);
void gw_peers_close(gw_peers *p);
/* gw_peers_pick returns the index of the instance for a new stream. */
int gw_peers_pick(gw_peers *p);

/* gw_peers_expand writes the comma list of addresses urls stands for into out (exposed for
 * tests); false when a name does not resolve or out is too small. */
bool gw_peers_expand(const char *urls, char *out, size_t outlen);

#endif
