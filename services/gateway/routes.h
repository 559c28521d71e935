/* The route table: each HTTP route, the service that owns it and who may call it. */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "np/httpop.h"

/* Who may call a route. A relay key (np-...) reaches GW_AUTH_RELAY routes only (the relay and
 * GET /auth/me); every other authenticated route needs a signed-in session (a JWT). */
typedef enum { GW_AUTH_PUBLIC, GW_AUTH_USER, GW_AUTH_ADMIN, GW_AUTH_RELAY } gw_auth_level;

typedef enum {
    GW_H_HEALTHZ,
    GW_H_READYZ,
    GW_H_METRICS,
    GW_H_FORWARD, /* the "http" operation to svc */
    GW_H_RELAY,   /* the relay to pool, streamed */
} gw_handler;

typedef enum { GW_SVC_NONE, GW_SVC_AUTH, GW_SVC_POOL, GW_SVC_AUDIT, GW_SVC_HEALTH } gw_service;

typedef struct {
    const char *methods; /* comma separated */
    const char *pattern; /* exact, with {id} for a numeric id; or a prefix ending in '/' */
    bool prefix;
    gw_handler handler;
    gw_service svc;
    gw_auth_level auth;
    const char *group; /* metrics route group */
    np_http_op ops[4]; /* GW_H_FORWARD: the op of each of methods, in the same order */
} gw_route;

/* gw_route_find returns the route for method and path, or NULL. When a route matches the
 * path but not the method, *allow receives its methods (for 405). */
const gw_route *gw_route_find(const char *method, size_t mlen, const char *path, size_t plen,
                              const char **allow);
/* gw_route_op returns the op a GW_H_FORWARD route gives method (one of its methods);
 * NP_OP_NONE for other routes. */
np_http_op gw_route_op(const gw_route *r, const char *method, size_t mlen);
/* gw_routes returns the table and its length (for tests). */
const gw_route *gw_routes(size_t *n);
/* gw_route_is_api tells whether a path belongs to the API (so it is never a static file). */
bool gw_route_is_api(const char *path, size_t plen);

#endif
