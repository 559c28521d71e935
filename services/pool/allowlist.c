/* The relay's allow-list (NOVELAI.md, "Routes to relay"), matched exactly: no prefixes, no
 * normalisation, so nothing off the list (login, keystore, token creation...) can slip by. */
#include "allowlist.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "settings.h"

#define IMG POOL_HOST_IMAGE
#define TXT POOL_HOST_TEXT
#define API POOL_HOST_API

static const pool_route routes[] = {
    {"POST", "/ai/generate-image", "/ai/generate-image", IMG, POOL_KIND_IMAGE, false, true},
    {"POST", "/generate-image", "/ai/generate-image", IMG, POOL_KIND_IMAGE, false, true},
    {"POST", "/ai/generate-image-stream", "/ai/generate-image-stream", IMG, POOL_KIND_IMAGE, true,
     true},
    {"POST", "/ai/augment-image", "/ai/augment-image", IMG, POOL_KIND_AUGMENT, false, true},
    {"POST", "/ai/upscale", "/ai/upscale", IMG, POOL_KIND_UPSCALE, false, true},
    {"POST", "/ai/encode-vibe", "/ai/encode-vibe", IMG, POOL_KIND_VIBE, false, true},
    {"GET", "/ai/generate-image/suggest-tags", "/ai/generate-image/suggest-tags", IMG,
     POOL_KIND_FREE, false, false},
    {"POST", "/ai/generate", "/ai/generate", TXT, POOL_KIND_TEXT, false, true},
    {"POST", "/ai/generate-stream", "/ai/generate-stream", TXT, POOL_KIND_TEXT, true, true},
    {"POST", "/oa/v1/completions", "/oa/v1/completions", TXT, POOL_KIND_TEXT, false, true},
    {"POST", "/oa/v1/chat/completions", "/oa/v1/chat/completions", TXT, POOL_KIND_TEXT, false,
     true},
    {"GET", "/oa/v1/models", "/oa/v1/models", TXT, POOL_KIND_FREE, false, false},
    {"POST", "/oa/v1/internal/token-count", "/oa/v1/internal/token-count", TXT, POOL_KIND_FREE,
     false, false},
    {"GET", "/ai/generate-voice", "/ai/generate-voice", API, POOL_KIND_FREE, false, false},
    {"POST", "/ai/generate-voice", "/ai/generate-voice", API, POOL_KIND_FREE, false, false},
    {"GET", "/models", NULL, POOL_HOST_LOCAL, POOL_KIND_MODELS, false, false},
    {"GET", "/user/subscription", NULL, POOL_HOST_LOCAL, POOL_KIND_SUBSCRIPTION, false, false},
    {"GET", "/user/data", NULL, POOL_HOST_LOCAL, POOL_KIND_ACCOUNT, false, false},
    {"GET", "/user/priority", NULL, POOL_HOST_LOCAL, POOL_KIND_ACCOUNT, false, false},
    {"GET", "/user/information", NULL, POOL_HOST_LOCAL, POOL_KIND_ACCOUNT, false, false},
};

/* The old upscale body, on the host that took it. */
static const pool_route upscale_old = {"POST", "/ai/upscale", "/ai/upscale", API, POOL_KIND_UPSCALE,
                                       false,  true};

const pool_route *
pool_route_find(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, path) == 0 && strcmp(routes[i].method, method) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

const pool_route *
pool_route_for_body(const pool_route *r, const char *ctype, const void *body, size_t len)
{
    if (r == NULL || r->kind != POOL_KIND_UPSCALE || len == 0 ||
        strncasecmp(ctype, "application/json", 16) != 0) {
        return r;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    bool old = json_is_object(j) && json_object_get(j, "model") == NULL &&
               json_is_integer(json_object_get(j, "width")) &&
               json_is_integer(json_object_get(j, "height")) &&
               json_is_number(json_object_get(j, "scale"));
    json_decref(j);
    return old ? &upscale_old : r;
}

const char *
pool_route_base(const pool_route *r, const pool_settings *ps)
{
    switch (r->host) {
    case POOL_HOST_IMAGE: return ps->NOVELAI_IMAGE_BASE;
    case POOL_HOST_TEXT: return ps->NOVELAI_TEXT_BASE;
    case POOL_HOST_API: return ps->NOVELAI_API_BASE;
    case POOL_HOST_LOCAL: break;
    }
    return "";
}
