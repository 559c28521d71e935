/* The relay's allow-list (NOVELAI.md, "Routes to relay"), matched exactly: no prefixes, no
 * normalisation, so nothing off the list (login, keystore, token creation...) can slip by. */
#include "allowlist.h"

#include <string.h>

#define IMG "NOVELAI_IMAGE_BASE"
#define TXT "NOVELAI_TEXT_BASE"
#define API "NOVELAI_API_BASE"

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
    {"GET", "/ai/generate-voice", "/ai/generate-voice", API, POOL_KIND_FREE, false, false},
    {"GET", "/models", NULL, NULL, POOL_KIND_MODELS, false, false},
    {"GET", "/user/subscription", NULL, NULL, POOL_KIND_SUBSCRIPTION, false, false},
};

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
