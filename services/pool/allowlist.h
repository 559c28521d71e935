/* The relay's allow-list: every NovelAI route a client may reach through /v1/novelai, the
 * upstream base each one goes to, and what kind of request it is (which decides the Anlas
 * rule and the timeouts). Anything not listed answers 404 not_allowed. */
#ifndef POOL_ALLOWLIST_H
#define POOL_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

/* The longest query string relayed: TTS carries its text in the query (GET
 * /ai/generate-voice), and 1,000 CJK characters are 9,000 bytes URL-encoded. */
#define POOL_QUERY_MAX 16384

/* The NovelAI hosts (NOVELAI.md); each has a base URL setting. */
typedef enum {
    POOL_HOST_LOCAL, /* answered by the pool itself */
    POOL_HOST_IMAGE, /* NOVELAI_IMAGE_BASE */
    POOL_HOST_TEXT,  /* NOVELAI_TEXT_BASE */
    POOL_HOST_API,   /* NOVELAI_API_BASE */
} pool_host;

typedef enum {
    POOL_KIND_IMAGE,        /* generate-image(-stream): the cost rule of NOVELAI.md */
    POOL_KIND_AUGMENT,      /* augment-image: bg-removal billed, others follow the free rule */
    POOL_KIND_UPSCALE,      /* always billed */
    POOL_KIND_VIBE,         /* encode-vibe: always billed */
    POOL_KIND_TEXT,         /* text generation: a JSON body naming a model */
    POOL_KIND_FREE,         /* GET routes without a body */
    POOL_KIND_MODELS,       /* answered by the pool: GET /models */
    POOL_KIND_SUBSCRIPTION, /* answered by the pool: GET /user/subscription */
    POOL_KIND_ACCOUNT,      /* answered by the pool: GET /user/data, /user/priority,
                             * /user/information (account.h) */
} pool_route_kind;

typedef struct {
    const char *method;
    const char *path;     /* after /v1/novelai */
    const char *upstream; /* the path sent upstream */
    pool_host host;       /* the NovelAI host it goes to (pool_route_base); LOCAL: none */
    pool_route_kind kind;
    bool stream; /* answered as a stream of events: idle timeout, not a whole one */
    bool locks;  /* NovelAI runs it under the account's one-generation lock, so it
                  * is served under a key lease; the others use any usable key */
} pool_route;

/* pool_route_base: the base URL of the route's host in ps ("" for a local route). */
const char *pool_route_base(const pool_route *r, const pool_settings *ps);

/* pool_route_find returns the route for method and path, or NULL when the pair is not on the
 * allow-list. */
const pool_route *pool_route_find(const char *method, const char *path);

/* pool_route_for_body returns the route a request on r is sent by, given its body: the old
 * upscale body {image, width, height, scale} (no model) goes to NOVELAI_API_BASE, where the
 * clients that still send it sent it; every other request keeps r. Borrows everything. */
const pool_route *pool_route_for_body(const pool_route *r, const char *ctype, const void *body,
                                      size_t len);

#endif
