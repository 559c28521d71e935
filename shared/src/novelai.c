/* NovelAI facts as pure functions: token format, masking, subscription parsing and the
 * classification of upstream answers. */
#include "np/novelai.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define PST_PREFIX "pst-"
#define PST_MIN 32
#define PST_MAX 128

bool
np_novelai_token_valid(const char *token, size_t len)
{
    size_t pl = strlen(PST_PREFIX);
    if (token == NULL || len < pl + PST_MIN || len > pl + PST_MAX ||
        memcmp(token, PST_PREFIX, pl) != 0) {
        return false;
    }
    for (size_t i = pl; i < len; i++) {
        char c = token[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

void
np_novelai_token_mask(const char *token, size_t len, char *out, size_t outlen)
{
    size_t pl = strlen(PST_PREFIX);
    if (!np_novelai_token_valid(token, len)) {
        snprintf(out, outlen, "pst-…");
        return;
    }
    snprintf(out, outlen, "pst-%.2s…%.2s", token + pl, token + len - 2);
}

static int64_t
int_field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    if (json_is_real(v)) {
        return (int64_t)json_real_value(v);
    }
    return 0;
}

bool
np_novelai_sub_parse(const void *body, size_t len, np_novelai_sub *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "tier")) ||
        !json_is_boolean(json_object_get(j, "active"))) {
        json_decref(j);
        return false;
    }
    out->tier = (int)json_integer_value(json_object_get(j, "tier"));
    out->active = json_is_true(json_object_get(j, "active"));
    out->expires_at = int_field(j, "expiresAt");
    const json_t *steps = json_object_get(j, "trainingStepsLeft");
    out->anlas =
        int_field(steps, "fixedTrainingStepsLeft") + int_field(steps, "purchasedTrainingSteps");
    const json_t *usage = json_object_get(j, "usage");
    out->v5_negative = json_is_true(json_object_get(usage, "isNegative"));
    const json_t *pct = json_object_get(usage, "percent");
    out->v5_percent = json_is_number(pct) ? json_number_value(pct) : 0.0;
    out->unlimited_images =
        json_is_true(json_object_get(json_object_get(j, "perks"), "unlimitedImageGeneration"));
    json_decref(j);
    return true;
}

np_novelai_outcome
np_novelai_classify(int status, const void *body, size_t len)
{
    if (status <= 0) {
        return NP_NAI_NETWORK;
    }
    if (status >= 200 && status < 300) {
        return NP_NAI_OK;
    }
    switch (status) {
    case 401: return NP_NAI_INVALID;
    case 402: return NP_NAI_EXHAUSTED;
    case 403:
        /* /oa/v1: the model needs a higher tier, which is the request's doing, not the key's
         * (NOVELAI.md, "Answers that are the client's fault") */
        return body != NULL && memmem(body, len, "not allowed for user tier", 25) != NULL
                   ? NP_NAI_CLIENT
                   : NP_NAI_FORBIDDEN;
    case 409: return NP_NAI_CONFLICT;
    case 429:
        /* NovelAI's own lock answer names it; a Cloudflare 429 does not. */
        return body != NULL && memmem(body, len, "oncurrent generation", 20) != NULL ? NP_NAI_LOCKED
                                                                                     : NP_NAI_RATE;
    default: break;
    }
    if (status >= 500) {
        return NP_NAI_SERVER;
    }
    return NP_NAI_CLIENT;
}

const char *
np_novelai_outcome_name(np_novelai_outcome o)
{
    switch (o) {
    case NP_NAI_OK: return "ok";
    case NP_NAI_CLIENT: return "client_error";
    case NP_NAI_INVALID: return "invalid";
    case NP_NAI_EXHAUSTED: return "exhausted";
    case NP_NAI_FORBIDDEN: return "forbidden";
    case NP_NAI_CONFLICT: return "conflict";
    case NP_NAI_LOCKED: return "locked";
    case NP_NAI_RATE: return "rate_limited";
    case NP_NAI_SERVER: return "server_error";
    case NP_NAI_NETWORK: return "network";
    }
    return "unknown";
}

const char *
np_novelai_probe_state(int status, const np_novelai_sub *sub)
{
    if (status == 200) {
        return sub->active ? "active" : "expired";
    }
    switch (status) {
    case 401:
    case 403: return "invalid";
    case 402: return "exhausted";
    default: return NULL;
    }
}
