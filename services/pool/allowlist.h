/* The relay's allow-list: every NovelAI route a client may reach through /v1/novelai, the
 * upstream base each one goes to, and what kind of request it is (which decides the Anlas
 * rule and the timeouts). Anything not listed answers 404 not_allowed. */
#ifndef POOL_ALLOWLIST_H
#define POOL_ALLOWLIST_H

#include <stdbool.h>

typedef enum {
    POOL_KIND_IMAGE,        /* generate-image(-stream): the cost rule of NOVELAI.md */
    POOL_KIND_AUGMENT,      /* augment-image: bg-removal billed, others follow the free rule */
    POOL_KIND_UPSCALE,      /* always billed */
    POOL_KIND_VIBE,         /* encode-vibe: always billed */
    POOL_KIND_TEXT,         /* text generation: a JSON body naming a model */
    POOL_KIND_FREE,         /* GET routes without a body */
    POOL_KIND_MODELS,       /* answered by the pool: GET /models */
    POOL_KIND_SUBSCRIPTION, /* answered by the pool: GET /user/subscription */
} pool_route_kind;

typedef struct {
    const char *method;
    const char *path;     /* after /v1/novelai */
    const char *upstream; /* the path sent upstream */
    const char *base;     /* the setting holding the upstream base URL; NULL: local */
    pool_route_kind kind;
    bool stream; /* answered as a stream of events: idle timeout, not a whole one */
    bool locks;  /* NovelAI runs it under the account's one-generation lock, so it
                  * is served under a key lease; the others use any usable key */
} pool_route;

/* pool_route_find returns the route for method and path, or NULL when the pair is not on the
 * allow-list. */
const pool_route *pool_route_find(const char *method, const char *path);

#endif
