/* The client's address: the socket peer, or with TRUST_PROXY_HEADERS=true the right-most
 * X-Forwarded-For entry that is not one of the trusted proxies (TRUSTED_PROXIES). */
#ifndef GW_CLIENTIP_H
#define GW_CLIENTIP_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

/* gw_client_ip writes the client's address as text into out. */
void gw_client_ip(gw_request *r, char *out, size_t outlen);
/* gw_ip_in_list tells whether the textual address ip falls in one of the comma separated
 * CIDRs of list ("10.0.0.0/8,::1/128"). Exposed for tests. */
bool gw_ip_in_list(const char *ip, const char *list);

#endif
