/* The Anlas guard's arithmetic and the request reader it needs. The cost rule is NOVELAI.md's
 * (reverse-engineered, not official): free for an active Opus key at steps <= 28, at most
 * 1,048,576 pixels and one sample (V5 also needs allowance left); everything else is billed. */
#include "anlas.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "multipart.h"

#define FREE_STEPS 28
#define FREE_PIXELS 1048576
#define MAX_PIXELS 3145728
#define MAX_STEPS 50
#define MAX_SAMPLES 8
#define MAX_SIDE 16384

static np_err
get_int(const json_t *obj, const char *key, int64_t dflt, int64_t min, int64_t max, int64_t *out,
        char *why, size_t whylen)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return NP_ERR_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(why, whylen, "%s must be an integer between %lld and %lld", key, (long long)min,
                 (long long)max);
        return NP_ERR_INVALID;
    }
    *out = json_integer_value(v);
    return NP_ERR_OK;
}

static np_err
read_model(const json_t *body, bool required, pool_anlas_req *out, char *why, size_t whylen)
{
    const json_t *m = json_object_get(body, "model");
    if (m == NULL && !required) {
        return NP_ERR_OK;
    }
    if (!json_is_string(m) || json_string_length(m) == 0 ||
        json_string_length(m) >= sizeof(out->model)) {
        snprintf(why, whylen, "model must be a model name");
        return NP_ERR_INVALID;
    }
    snprintf(out->model, sizeof(out->model), "%s", json_string_value(m));
    out->v5 = strncmp(out->model, "nai-diffusion-5", 15) == 0;
    return NP_ERR_OK;
}

static np_err
read_image(const json_t *body, pool_anlas_req *out, char *why, size_t whylen)
{
    np_err err = read_model(body, true, out, why, whylen);
    if (err != NP_ERR_OK) {
        return err;
    }
    const json_t *p = json_object_get(body, "parameters");
    if (p != NULL && !json_is_object(p)) {
        snprintf(why, whylen, "parameters must be an object");
        return NP_ERR_INVALID;
    }
    if ((err = get_int(p, "width", 832, 64, MAX_SIDE, &out->width, why, whylen)) ||
        (err = get_int(p, "height", 1216, 64, MAX_SIDE, &out->height, why, whylen)) ||
        (err = get_int(p, "steps", 28, 1, MAX_STEPS, &out->steps, why, whylen)) ||
        (err = get_int(p, "n_samples", 1, 1, MAX_SAMPLES, &out->n_samples, why, whylen))) {
        return err;
    }
    if (out->width % 64 != 0 || out->height % 64 != 0) {
        snprintf(why, whylen, "width and height must be multiples of 64");
        return NP_ERR_INVALID;
    }
    if (out->width * out->height > MAX_PIXELS) {
        snprintf(why, whylen, "%lldx%lld exceeds the largest size NovelAI accepts (%d pixels)",
                 (long long)out->width, (long long)out->height, MAX_PIXELS);
        return NP_ERR_INVALID;
    }
    out->smea = json_is_true(json_object_get(p, "sm"));
    out->smea_dyn = json_is_true(json_object_get(p, "sm_dyn"));
    const json_t *action = json_object_get(body, "action");
    if (action != NULL && !json_is_string(action)) {
        snprintf(why, whylen, "action must be generate, img2img or infill");
        return NP_ERR_INVALID;
    }
    const char *a = action != NULL ? json_string_value(action) : "generate";
    if (strcmp(a, "img2img") == 0 || strcmp(a, "infill") == 0) {
        const json_t *s = json_object_get(p, "strength");
        out->strength = json_is_number(s) ? json_number_value(s) : 0.7;
        if (!(out->strength >= 0.01 && out->strength <= 1.0)) {
            snprintf(why, whylen, "strength must be between 0.01 and 1");
            return NP_ERR_INVALID;
        }
    } else if (strcmp(a, "generate") != 0) {
        snprintf(why, whylen, "action must be generate, img2img or infill");
        return NP_ERR_INVALID;
    }
    out->refs = (int64_t)json_array_size(json_object_get(p, "director_reference_images"));
    out->vibes = (int64_t)json_array_size(json_object_get(p, "reference_image_multiple"));
    return NP_ERR_OK;
}

static np_err
read_augment(const json_t *body, pool_anlas_req *out, char *why, size_t whylen)
{
    static const char *const types[] = {"bg-removal", "colorize",  "lineart", "sketch",
                                        "emotion",    "declutter", NULL};
    const char *t = json_string_value(json_object_get(body, "req_type"));
    int i = 0;
    while (t != NULL && types[i] != NULL && strcmp(t, types[i]) != 0) {
        i++;
    }
    if (t == NULL || types[i] == NULL) {
        snprintf(why, whylen,
                 "req_type must be one of bg-removal, colorize, lineart, sketch, "
                 "emotion, declutter");
        return NP_ERR_INVALID;
    }
    out->bg_removal = i == 0;
    np_err err;
    if ((err = get_int(body, "width", 0, 1, MAX_SIDE, &out->width, why, whylen)) ||
        (err = get_int(body, "height", 0, 1, MAX_SIDE, &out->height, why, whylen))) {
        return err;
    }
    if (out->width == 0 || out->height == 0) {
        snprintf(why, whylen, "width and height are required");
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

np_err
pool_anlas_parse(pool_route_kind kind, const char *ctype, const void *body, size_t len,
                 pool_anlas_req *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->steps = 28;
    out->n_samples = 1;
    out->strength = 1.0;
    if (kind == POOL_KIND_FREE || kind == POOL_KIND_MODELS || kind == POOL_KIND_SUBSCRIPTION) {
        return NP_ERR_OK;
    }
    const void *json = body;
    size_t jlen = len;
    if (pool_multipart_is(ctype)) {
        if (kind != POOL_KIND_IMAGE) {
            snprintf(why, whylen, "this route takes a JSON body, not multipart");
            return NP_ERR_INVALID;
        }
        if (!pool_multipart_find(ctype, body, len, "request", &json, &jlen, why, whylen)) {
            return NP_ERR_INVALID;
        }
    }
    json_error_t jerr;
    json_t *j = jlen > 0 ? json_loadb(json, jlen, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(j)) {
        if (j == NULL && jlen > 0) {
            snprintf(why, whylen, "the body is not valid JSON: %s", jerr.text);
        } else {
            snprintf(why, whylen, "the body must be a JSON object");
        }
        json_decref(j);
        return NP_ERR_BAD_JSON;
    }
    np_err err = NP_ERR_OK;
    switch (kind) {
    case POOL_KIND_IMAGE: err = read_image(j, out, why, whylen); break;
    case POOL_KIND_AUGMENT: err = read_augment(j, out, why, whylen); break;
    case POOL_KIND_VIBE:
    case POOL_KIND_UPSCALE: err = read_model(j, false, out, why, whylen); break;
    case POOL_KIND_TEXT: err = read_model(j, true, out, why, whylen); break;
    default: break;
    }
    out->stream = json_is_true(json_object_get(j, "stream"));
    json_decref(j);
    return err;
}

int64_t
pool_anlas_sample_cost(const pool_anlas_req *r)
{
    double px = (double)r->width * (double)r->height;
    if (px < 65536) {
        px = 65536;
    }
    double c = ceil(2.951823174884865e-6 * px + 5.753298233447344e-7 * px * (double)r->steps);
    if (r->smea_dyn) {
        c *= 1.4;
    } else if (r->smea) {
        c *= 1.2;
    }
    c = ceil(c * r->strength);
    if (c < 2) {
        c = 2;
    }
    if (r->v5) {
        c = ceil(c * 1.5);
    }
    return (int64_t)c;
}

/* Why the first sample is not free on key k; NULL when it is. */
static const char *
not_free(const pool_anlas_req *r, const pool_key_policy *k, char *buf, size_t buflen)
{
    if (r->steps > FREE_STEPS) {
        snprintf(buf, buflen, "steps %lld > %d", (long long)r->steps, FREE_STEPS);
    } else if (r->width * r->height > FREE_PIXELS) {
        snprintf(buf, buflen, "%lldx%lld exceeds %d pixels", (long long)r->width,
                 (long long)r->height, FREE_PIXELS);
    } else if (k->tier != 3 || !k->active) {
        snprintf(buf, buflen, "free generation needs an active Opus key");
    } else if (r->v5 && k->v5_negative) {
        snprintf(buf, buflen, "V5 weekly allowance used up");
    } else {
        return NULL;
    }
    return buf;
}

int64_t
pool_anlas_cost(const pool_anlas_req *r, const pool_key_policy *k, char *why, size_t whylen)
{
    char buf[128];
    const char *reason = NULL;
    int64_t cost = 0;
    switch (r->kind) {
    case POOL_KIND_IMAGE: {
        int64_t per = pool_anlas_sample_cost(r);
        reason = not_free(r, k, buf, sizeof(buf));
        int64_t billed = r->n_samples - (reason == NULL ? 1 : 0);
        cost = billed * per + r->refs * 5 * r->n_samples + r->vibes * 2;
        if (reason == NULL && r->n_samples > 1) {
            snprintf(buf, sizeof(buf), "n_samples %lld: extra samples are billed",
                     (long long)r->n_samples);
            reason = buf;
        } else if (reason == NULL && r->refs > 0) {
            snprintf(buf, sizeof(buf), "character references are billed (5 Anlas each)");
            reason = buf;
        } else if (reason == NULL && r->vibes > 0) {
            snprintf(buf, sizeof(buf), "vibe encoding is billed (2 Anlas per image)");
            reason = buf;
        }
        break;
    }
    case POOL_KIND_AUGMENT: {
        pool_anlas_req one = *r;
        one.steps = FREE_STEPS;
        one.n_samples = 1;
        cost = pool_anlas_sample_cost(&one);
        if (r->bg_removal) {
            snprintf(buf, sizeof(buf), "background removal is billed");
            reason = buf;
        } else if ((reason = not_free(&one, k, buf, sizeof(buf))) == NULL) {
            cost = 0;
        }
        break;
    }
    case POOL_KIND_UPSCALE:
        cost = 1;
        snprintf(buf, sizeof(buf), "upscaling is billed");
        reason = buf;
        break;
    case POOL_KIND_VIBE:
        cost = 2;
        snprintf(buf, sizeof(buf), "vibe encoding is billed (2 Anlas)");
        reason = buf;
        break;
    default: break;
    }
    if (cost > 0 && why != NULL) {
        snprintf(why, whylen, "%s", reason != NULL ? reason : "the request is billed");
    }
    return cost;
}

bool
pool_anlas_fits(const pool_anlas_req *r, const pool_key_policy *k, int64_t *cost, char *why,
                size_t whylen)
{
    char reason[128] = "";
    *cost = pool_anlas_cost(r, k, reason, sizeof(reason));
    if (*cost == 0) {
        return true;
    }
    if (!k->allow_paid) {
        snprintf(why, whylen, "%s", reason);
        return false;
    }
    if (k->max_per_request >= 0 && *cost > k->max_per_request) {
        snprintf(why, whylen, "%s: costs about %lld Anlas > %lld allowed per request", reason,
                 (long long)*cost, (long long)k->max_per_request);
        return false;
    }
    if (k->anlas - *cost < k->floor) {
        snprintf(why, whylen,
                 "%s: costs about %lld Anlas, which would take the key under its "
                 "floor",
                 reason, (long long)*cost);
        return false;
    }
    return true;
}
