/* The client's address: the socket peer, or with TRUST_PROXY_HEADERS=true the right-most
 * X-Forwarded-For entry that is not one of the trusted proxies (TRUSTED_PROXIES), when the
 * peer itself is one of them; or with TRUSTED_PROXY_HOPS=n, the n-th entry from the right. */
#ifndef GW_CLIENTIP_H
#define GW_CLIENTIP_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

/* The default of TRUSTED_PROXIES: loopback only. */
#define GW_TRUSTED_PROXIES_DEFAULT "127.0.0.0/8,::1/128"

/* gw_client_ip writes the client's address as text into out. */
void gw_client_ip(gw_request *r, char *out, size_t outlen);
/* gw_ip_in_list tells whether the textual address ip falls in one of the comma separated
 * CIDRs of list ("10.0.0.0/8,::1/128"). Exposed for tests. */
bool gw_ip_in_list(const char *ip, const char *list);
/* gw_client_ip_pick chooses the client's address from the socket peer and the X-Forwarded-For
 * value (xfflen bytes, may be NULL): when the peer is a trusted proxy, the right-most entry
 * that is not one; otherwise the peer. Writes it into out; returns whether it came from the
 * header. Exposed for tests. */
bool gw_client_ip_pick(const char *peer, const char *xff, size_t xfflen, const char *trusted,
                       char *out, size_t outlen);

/* gw_client_ip_pick_hops chooses the entry hops places from the right of X-Forwarded-For
 * (1: the right-most, written by the one proxy in front of us); the peer when the header has
 * fewer entries or the entry is no address. Returns whether it came from the header. */
bool gw_client_ip_pick_hops(const char *peer, const char *xff, size_t xfflen, int hops, char *out,
                            size_t outlen);

#endif
