/* Who is calling: the gateway reads the Authorization header, asks the auth service
 * ("authenticate") and keeps the answer in a short-lived, bounded cache, so a revoked key or
 * a disabled user stops working within the cache TTL. The cache is keyed by a hash of the
 * credential: no credential is ever kept. */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdint.h>

#include "np/errors.h"
#include "server.h"

typedef struct {
    int64_t user_id;
    char role[16];
    int64_t relay_key_id; /* 0 for a session token (JWT) */
} gw_principal;

/* gw_auth_done runs on the loop thread, only while the client is still there. On failure
 * err is set and message says why (for the 401). */
typedef void (*gw_auth_done)(gw_request *r, np_err err, const char *message, const gw_principal *p,
                             void *arg);

/* gw_auth_resolve authenticates the request's caller. With no Authorization header it
 * answers NP_ERR_UNAUTHORIZED. */
void gw_auth_resolve(gw_request *r, gw_auth_done done, void *arg);

gw_auth_cache *gw_auth_cache_new(int ttl_ms, int slots);
void gw_auth_cache_free(gw_auth_cache *c);

#endif
