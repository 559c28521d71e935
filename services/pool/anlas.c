/* The Anlas guard's cost model and the request reader it needs, from NOVELAI.md ("When an
 * image costs Anlas", "Web-protocol requests"); reverse-engineered, not official. Free: an
 * active Opus key, steps <= 28, at most 1,048,576 pixels, the first sample only (V5 also
 * needs allowance left). Billed on top even on Opus: references (+5 each per sample), vibes
 * beyond the 4th on V4+ (+2 each), bg-removal, upscale, vibe encoding. Anything the model
 * does not know (a field, a model, a body shape) is recorded in unknown and priced as
 * billed, so it never reaches a free-only key. */
#include "anlas.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"
#include "np/json.h"

#define MAX_PIXELS 3145728
#define MAX_STEPS 50
#define MAX_SAMPLES 8
#define MAX_SIDE 16384
#define FREE_VIBES 4 /* V4+: vibes beyond the 4th cost 2 each */

/* Top-level fields of an image request and parameters that do not change the price. The
 * fields that do are read one by one below; any other field is unknown. */
static const char *const image_fields[] = {
    "input", "model", "action", "parameters", "use_new_shared_trial", NULL};
static const char *const neutral_params[] = {"params_version",
                                             "scale",
                                             "sampler",
                                             "seed",
                                             "extra_noise_seed",
                                             "negative_prompt",
                                             "ucPreset",
                                             "qualityToggle",
                                             "autoSmea",
                                             "dynamic_thresholding",
                                             "controlnet_strength",
                                             "legacy",
                                             "add_original_image",
                                             "cfg_rescale",
                                             "noise_schedule",
                                             "legacy_v3_extend",
                                             "skip_cfg_above_sigma",
                                             "use_coords",
                                             "legacy_uc",
                                             "normalize_reference_strength_multiple",
                                             "deliberate_euler_ancestral_bug",
                                             "prefer_brownian",
                                             "image_format",
                                             "characterPrompts",
                                             "v4_prompt",
                                             "v4_negative_prompt",
                                             "reference_information_extracted_multiple",
                                             "reference_strength_multiple",
                                             "director_reference_descriptions",
                                             "director_reference_information_extracted",
                                             "director_reference_strength_values",
                                             "director_reference_secondary_strength_values",
                                             "noise",
                                             "color_correct",
                                             "stream",
                                             "image",
                                             "uncond_scale",
                                             "cfg_sched_eligibility",
                                             NULL};
/* Read below: they decide the price. */
static const char *const priced_params[] = {"width",
                                            "height",
                                            "steps",
                                            "n_samples",
                                            "sm",
                                            "sm_dyn",
                                            "strength",
                                            "inpaintImg2ImgStrength",
                                            "mask",
                                            "reference_image_multiple",
                                            "reference_image_multiple_cached",
                                            "director_reference_images",
                                            "director_reference_images_cached",
                                            NULL};
static const char *const augment_fields[] = {"req_type", "width", "height", "image",
                                             "prompt",   "defry", NULL};
static const char *const augment_types[] = {
    "bg-removal", "colorize", "declutter", "declutter-keep-bubbles",
    "emotion",    "lineart",  "sketch",    NULL};
static const char *const upscale_fields[] = {
    "image", "model", "declared_blur_sigma", "width", "height", "scale", NULL};

static bool
in(const char *const *list, const char *s)
{
    for (int i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* The length of s, at most cap (a loop: gcc's -O3 flags strnlen bounds that exceed the
 * caller's array even when the string ends inside it). */
static size_t
len_at_most(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != '\0') {
        n++;
    }
    return n;
}

/* Records what the model does not know (the first thing only): words, then name. */
static void
set_unknown(pool_anlas_req *out, const char *words, const char *name)
{
    if (out->unknown[0] == '\0') {
        /* words, then at most 80 bytes of name, cut to fit (copied by hand: release builds
         * refuse a snprintf that may truncate) */
        size_t cap = sizeof(out->unknown) - 1;
        size_t n = len_at_most(words, cap);
        size_t m = len_at_most(name, 80);
        if (m > cap - n) {
            m = cap - n;
        }
        memcpy(out->unknown, words, n);
        memcpy(out->unknown + n, name, m);
        out->unknown[n + m] = '\0';
    }
}

/* Records the first field of obj that is in none of the lists (prefix names where it is).
 * obj is not const: jansson iterates only mutable objects. */
static void
check_fields(json_t *obj, const char *prefix, const char *const *a, const char *const *b,
             pool_anlas_req *out)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!in(a, key) && (b == NULL || !in(b, key))) {
            char what[96];
            snprintf(what, sizeof(what), "field %s", prefix);
            set_unknown(out, what, key);
            return;
        }
    }
}

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

/* A factor in (0, 1]: strength or inpaintImg2ImgStrength; dflt when absent. */
static np_err
get_factor(const json_t *p, const char *key, double *out, char *why, size_t whylen)
{
    const json_t *s = json_object_get(p, key);
    if (s == NULL || json_is_null(s)) {
        *out = 1.0;
        return NP_ERR_OK;
    }
    *out = json_is_number(s) ? json_number_value(s) : -1;
    if (!(*out >= 0.01 && *out <= 1.0)) {
        snprintf(why, whylen, "%s must be a number between 0.01 and 1", key);
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

/* Whether name is family (exactly, or followed by "-..."). */
static bool
family(const char *name, const char *family)
{
    size_t n = strlen(family);
    return strncmp(name, family, n) == 0 && (name[n] == '\0' || name[n] == '-');
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
    out->v3 = family(out->model, "nai-diffusion-3") || family(out->model, "nai-diffusion-furry-3");
    out->v5 = family(out->model, "nai-diffusion-5");
    return NP_ERR_OK;
}

/* Whether a vibe entry is an image still to be encoded rather than an encoding: a data URL
 * of an image, or base64 that starts like PNG, JPEG, WebP or GIF. */
static bool
raw_image(const char *s)
{
    if (strncasecmp(s, "data:", 5) == 0) {
        return strncasecmp(s + 5, "image/", 6) == 0;
    }
    static const char *const magic[] = {"iVBORw0KGgo", "/9j/", "UklGR", "R0lGOD", NULL};
    for (int i = 0; magic[i] != NULL; i++) {
        if (strncmp(s, magic[i], strlen(magic[i])) == 0) {
            return true;
        }
    }
    return false;
}

/* Counts a reference or vibe array (plain: strings; cached: {cache_secret_key, data?}). */
static np_err
count_array(const json_t *p, const char *key, bool cached, int64_t *n, int64_t *raw,
            pool_anlas_req *out, char *why, size_t whylen)
{
    const json_t *a = json_object_get(p, key);
    if (a == NULL || json_is_null(a)) {
        return NP_ERR_OK;
    }
    if (!json_is_array(a)) {
        snprintf(why, whylen, "parameters.%s must be an array", key);
        return NP_ERR_INVALID;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        const json_t *data = cached ? json_object_get(e, "data") : e;
        if (cached &&
            (!json_is_object(e) || !json_is_string(json_object_get(e, "cache_secret_key")))) {
            set_unknown(out, "an entry that is not {cache_secret_key, data?} in parameters.", key);
        } else if (!cached && !json_is_string(e)) {
            set_unknown(out, "an entry that is not a string in parameters.", key);
        }
        if (raw != NULL && json_is_string(data) && raw_image(json_string_value(data))) {
            (*raw)++;
        }
    }
    *n += (int64_t)json_array_size(a);
    return NP_ERR_OK;
}

static np_err
read_image(json_t *body, bool mask_part, pool_anlas_req *out, char *why, size_t whylen)
{
    np_err err = read_model(body, true, out, why, whylen);
    if (err != NP_ERR_OK) {
        return err;
    }
    if (!out->v3 && !family(out->model, "nai-diffusion-4") && !out->v5) {
        set_unknown(out, "model ", out->model);
    }
    check_fields(body, "", image_fields, NULL, out);
    json_t *p = json_object_get(body, "parameters");
    if (p != NULL && !json_is_object(p)) {
        snprintf(why, whylen, "parameters must be an object");
        return NP_ERR_INVALID;
    }
    check_fields(p, "parameters.", neutral_params, priced_params, out);
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
    /* SMEA: anything but false or null counts as on (the dearer reading). */
    const json_t *sm = json_object_get(p, "sm"), *dyn = json_object_get(p, "sm_dyn");
    out->smea = sm != NULL && !json_is_false(sm) && !json_is_null(sm);
    out->smea_dyn = dyn != NULL && !json_is_false(dyn) && !json_is_null(dyn);
    const json_t *action = json_object_get(body, "action");
    if (action != NULL && !json_is_string(action)) {
        snprintf(why, whylen, "action must be generate, img2img or infill");
        return NP_ERR_INVALID;
    }
    const char *a = action != NULL ? json_string_value(action) : "generate";
    if (strcmp(a, "generate") != 0 && strcmp(a, "img2img") != 0 && strcmp(a, "infill") != 0) {
        snprintf(why, whylen, "action must be generate, img2img or infill");
        return NP_ERR_INVALID;
    }
    const json_t *mask = json_object_get(p, "mask");
    if (mask_part || (mask != NULL && !json_is_null(mask))) {
        /* inpaint: inpaintImg2ImgStrength (default 1), not strength */
        err = get_factor(p, "inpaintImg2ImgStrength", &out->strength, why, whylen);
    } else if (strcmp(a, "img2img") == 0) {
        err = get_factor(p, "strength", &out->strength, why, whylen);
    }
    if (err != NP_ERR_OK) {
        return err;
    }
    if ((err = count_array(p, "director_reference_images", false, &out->refs, NULL, out, why,
                           whylen)) ||
        (err = count_array(p, "director_reference_images_cached", true, &out->refs, NULL, out, why,
                           whylen)) ||
        (err = count_array(p, "reference_image_multiple", false, &out->vibes, &out->vibes_raw, out,
                           why, whylen)) ||
        (err = count_array(p, "reference_image_multiple_cached", true, &out->vibes, &out->vibes_raw,
                           out, why, whylen))) {
        return err;
    }
    return NP_ERR_OK;
}

static np_err
read_augment(json_t *body, pool_anlas_req *out, char *why, size_t whylen)
{
    const char *t = json_string_value(json_object_get(body, "req_type"));
    if (t == NULL || !in(augment_types, t)) {
        snprintf(why, whylen,
                 "req_type must be one of bg-removal, colorize, declutter, "
                 "declutter-keep-bubbles, emotion, lineart, sketch");
        return NP_ERR_INVALID;
    }
    out->bg_removal = strcmp(t, "bg-removal") == 0;
    check_fields(body, "", augment_fields, NULL, out);
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

/* The size of a PNG from its first 24 bytes (signature, IHDR length and type, width,
 * height); false, *w and *h untouched, when it is not a PNG or a side is 0 or above
 * MAX_SIDE (found by cost_fuzz: two 2^32-1 sides overflowed the pixel count). */
static bool
png_size(const unsigned char *b, size_t len, int64_t *w, int64_t *h)
{
    static const unsigned char sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 24 || memcmp(b, sig, 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0) {
        return false;
    }
    int64_t pw = ((int64_t)b[16] << 24) | ((int64_t)b[17] << 16) | ((int64_t)b[18] << 8) | b[19];
    int64_t ph = ((int64_t)b[20] << 24) | ((int64_t)b[21] << 16) | ((int64_t)b[22] << 8) | b[23];
    if (pw <= 0 || ph <= 0 || pw > MAX_SIDE || ph > MAX_SIDE) {
        return false;
    }
    *w = pw;
    *h = ph;
    return true;
}

/* Decodes the first 24 bytes of base64 text s (32 characters) into out. */
static bool
b64_head(const char *s, unsigned char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 32; i += 4) {
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) {
            const char *c = s[i + j] != '\0' ? strchr(tab, s[i + j]) : NULL;
            if (c == NULL) {
                return false;
            }
            v = v << 6 | (uint32_t)(c - tab);
        }
        out[i / 4 * 3] = (unsigned char)(v >> 16);
        out[i / 4 * 3 + 1] = (unsigned char)(v >> 8);
        out[i / 4 * 3 + 2] = (unsigned char)v;
    }
    return true;
}

/* Upscale is priced by the source's size: the old shape gives width and height, otherwise
 * the image itself (base64 in the JSON, or the multipart "image" part) when it is a PNG.
 * width stays 0 when the size is unknown (priced at the most). */
static np_err
read_upscale(json_t *body, const pool_mp_part *image, pool_anlas_req *out, char *why, size_t whylen)
{
    np_err err = read_model(body, false, out, why, whylen);
    if (err != NP_ERR_OK) {
        return err;
    }
    check_fields(body, "", upscale_fields, NULL, out);
    if ((err = get_int(body, "width", 0, 1, MAX_SIDE, &out->width, why, whylen)) ||
        (err = get_int(body, "height", 0, 1, MAX_SIDE, &out->height, why, whylen))) {
        return err;
    }
    if (out->width > 0 && out->height > 0) {
        return NP_ERR_OK;
    }
    out->width = out->height = 0;
    unsigned char head[24];
    const char *b64 = json_string_value(json_object_get(body, "image"));
    if (b64 != NULL && b64_head(b64, head)) {
        (void)png_size(head, sizeof(head), &out->width, &out->height);
    } else if (image != NULL) {
        (void)png_size(image->data, image->len, &out->width, &out->height);
    }
    return NP_ERR_OK;
}

/* Whether a multipart part's Content-Type allows JSON ("" or application/json). */
static bool
json_part(const pool_mp_part *p)
{
    size_t n = strcspn(p->ctype, "; \t");
    return p->ctype[0] == '\0' || (n == 16 && strncasecmp(p->ctype, "application/json", 16) == 0);
}

np_err
pool_anlas_parse(pool_route_kind kind, const char *ctype, const void *body, size_t len,
                 const pool_anlas_limits *lim, pool_anlas_req *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->steps = 28;
    out->n_samples = 1;
    out->strength = 1.0;
    out->free = lim != NULL ? *lim : POOL_ANLAS_LIMITS_DEFAULT;
    if (kind == POOL_KIND_FREE || kind == POOL_KIND_MODELS || kind == POOL_KIND_SUBSCRIPTION) {
        return NP_ERR_OK;
    }
    np_err err = NP_ERR_OK;
    pool_mp_body *mp = NULL;
    json_t *j = NULL;
    const void *json = body;
    size_t jlen = len;
    if (pool_multipart_is(ctype)) {
        if (kind == POOL_KIND_TEXT) {
            snprintf(why, whylen, "this route takes a JSON body, not multipart");
            err = NP_ERR_INVALID;
            goto done;
        }
        mp = malloc(sizeof(*mp));
        if (mp == NULL) {
            err = NP_ERR_NOMEM;
            goto done;
        }
        if (!pool_multipart_parse(ctype, body, len, mp, why, whylen)) {
            err = NP_ERR_INVALID;
            goto done;
        }
        const pool_mp_part *req = pool_multipart_get(mp, "request");
        if (req == NULL) {
            snprintf(why, whylen, "the multipart body has no \"request\" part");
            err = NP_ERR_INVALID;
            goto done;
        }
        if (!json_part(req)) {
            snprintf(why, whylen, "the multipart \"request\" part must be JSON, not %.64s",
                     req->ctype);
            err = NP_ERR_INVALID;
            goto done;
        }
        json = req->data;
        jlen = req->len;
    }
    if (!np_json_prescan(json, jlen, why, whylen)) {
        err = mp != NULL ? NP_ERR_INVALID : NP_ERR_BAD_JSON;
        goto done;
    }
    json_error_t jerr;
    j = jlen > 0 ? json_loadb(json, jlen, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(j)) {
        const char *what = mp != NULL ? "the multipart \"request\" part" : "the body";
        if (j == NULL && jlen > 0) {
            snprintf(why, whylen, "%s is not valid JSON: %s", what, jerr.text);
        } else {
            snprintf(why, whylen, "%s must be a JSON object", what);
        }
        err = mp != NULL ? NP_ERR_INVALID : NP_ERR_BAD_JSON;
        goto done;
    }
    switch (kind) {
    case POOL_KIND_IMAGE:
        err = read_image(j, mp != NULL && pool_multipart_get(mp, "mask") != NULL, out, why, whylen);
        break;
    case POOL_KIND_AUGMENT: err = read_augment(j, out, why, whylen); break;
    case POOL_KIND_UPSCALE:
        err =
            read_upscale(j, mp != NULL ? pool_multipart_get(mp, "image") : NULL, out, why, whylen);
        break;
    case POOL_KIND_VIBE: err = read_model(j, false, out, why, whylen); break;
    case POOL_KIND_TEXT: err = read_model(j, true, out, why, whylen); break;
    default: break;
    }
    out->stream = json_is_true(json_object_get(j, "stream"));
done:
    json_decref(j);
    free(mp);
    return err;
}

/* The price of one V3-style image of px pixels at steps steps, before any factor. */
static double
base_price(double px, int64_t steps)
{
    if (px < 65536) {
        px = 65536;
    }
    return ceil(2.951823174884865e-6 * px + 5.753298233447344e-7 * px * (double)steps);
}

int64_t
pool_anlas_sample_cost(const pool_anlas_req *r)
{
    double c = base_price((double)r->width * (double)r->height, r->steps);
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
not_free(const pool_anlas_req *r, const pool_key_policy *k, int64_t steps, char *buf, size_t buflen)
{
    if (r->unknown[0] != '\0') {
        snprintf(buf, buflen, "the cost model does not know %s, so it counts as billed",
                 r->unknown);
    } else if (steps > r->free.steps) {
        snprintf(buf, buflen, "steps %lld > %lld", (long long)steps, (long long)r->free.steps);
    } else if (r->width * r->height > r->free.pixels) {
        snprintf(buf, buflen, "%lldx%lld exceeds %lld pixels", (long long)r->width,
                 (long long)r->height, (long long)r->free.pixels);
    } else if (k->tier != 3 || !k->active) {
        snprintf(buf, buflen, "free generation needs an active Opus key");
    } else if (r->v5 && k->v5_negative) {
        snprintf(buf, buflen, "V5 weekly allowance used up");
    } else if (r->v5 && k->v5_percent <= r->free.v5_margin) {
        snprintf(buf, buflen, "V5 weekly allowance at %.1f%%, within the %.1f%% margin",
                 k->v5_percent, r->free.v5_margin);
    } else {
        return NULL;
    }
    return buf;
}

/* Vibes: V3 carries no surcharge; V4+ bills each vibe beyond the 4th and each image that
 * still has to be encoded. */
static int64_t
vibe_cost(const pool_anlas_req *r)
{
    if (r->v3) {
        return 0;
    }
    return (r->vibes > FREE_VIBES ? (r->vibes - FREE_VIBES) * 2 : 0) + r->vibes_raw * 2;
}

static int64_t
image_cost(const pool_anlas_req *r, const pool_key_policy *k, char *buf, size_t buflen)
{
    int64_t per = pool_anlas_sample_cost(r);
    const char *reason = not_free(r, k, r->steps, buf, buflen);
    int64_t free_n = reason == NULL ? r->free.samples : 0;
    int64_t billed = r->n_samples > free_n ? r->n_samples - free_n : 0;
    int64_t vibes = vibe_cost(r);
    if (reason == NULL && billed > 0) {
        snprintf(buf, buflen, "n_samples %lld: samples beyond %lld are billed",
                 (long long)r->n_samples, (long long)free_n);
    } else if (reason == NULL && r->refs > 0) {
        snprintf(buf, buflen, "character references are billed (5 Anlas each per sample)");
    } else if (reason == NULL && r->vibes_raw > 0 && vibes > 0) {
        snprintf(buf, buflen, "vibe images that are not encoded yet are billed (2 Anlas each)");
    } else if (reason == NULL && vibes > 0) {
        snprintf(buf, buflen, "%lld vibes: each beyond the 4th is billed (2 Anlas)",
                 (long long)r->vibes);
    }
    return billed * per + r->refs * 5 * r->n_samples + vibes;
}

/* Director tools: a V3 image at 28 steps of the given size, free on Opus within the
 * limits; bg-removal never free, 3 * price + 5. */
static int64_t
augment_cost(const pool_anlas_req *r, const pool_key_policy *k, char *buf, size_t buflen)
{
    int64_t price = (int64_t)base_price((double)r->width * (double)r->height, 28);
    if (r->bg_removal) {
        if (r->unknown[0] != '\0') {
            (void)not_free(r, k, 28, buf, buflen);
        } else {
            snprintf(buf, buflen, "background removal is billed");
        }
        return 3 * price + 5;
    }
    return not_free(r, k, 28, buf, buflen) == NULL ? 0 : price;
}

/* Upscale: never free; by the source's pixels (the most when unknown). */
static int64_t
upscale_cost(const pool_anlas_req *r, const pool_key_policy *k, char *buf, size_t buflen)
{
    int64_t px = r->width * r->height, cost = 4;
    if (px > 0 && px <= 1048576) {
        cost = 1;
    } else if (px > 0 && px <= 1747627) {
        cost = 2;
    } else if (px > 0 && px <= 2446678) {
        cost = 3;
    }
    if (r->unknown[0] != '\0') {
        (void)not_free(r, k, 0, buf, buflen);
    } else if (px == 0) {
        snprintf(buf, buflen, "upscaling is billed (source size unknown: priced at 4 Anlas)");
    } else {
        snprintf(buf, buflen, "upscaling is billed (%lld Anlas for %lldx%lld)", (long long)cost,
                 (long long)r->width, (long long)r->height);
    }
    return cost;
}

int64_t
pool_anlas_cost(const pool_anlas_req *r, const pool_key_policy *k, char *why, size_t whylen)
{
    char buf[200] = "";
    int64_t cost = 0;
    switch (r->kind) {
    case POOL_KIND_IMAGE: cost = image_cost(r, k, buf, sizeof(buf)); break;
    case POOL_KIND_AUGMENT: cost = augment_cost(r, k, buf, sizeof(buf)); break;
    case POOL_KIND_UPSCALE: cost = upscale_cost(r, k, buf, sizeof(buf)); break;
    case POOL_KIND_VIBE:
        cost = 2;
        snprintf(buf, sizeof(buf), "vibe encoding is billed (2 Anlas)");
        break;
    default: break;
    }
    if (cost == 0 && r->unknown[0] != '\0' && r->kind != POOL_KIND_TEXT &&
        r->kind != POOL_KIND_FREE && r->kind != POOL_KIND_MODELS &&
        r->kind != POOL_KIND_SUBSCRIPTION) {
        cost = 1; /* fail closed: never 0 for what the model does not know */
        (void)not_free(r, k, 0, buf, sizeof(buf));
    }
    if (cost > 0 && why != NULL) {
        snprintf(why, whylen, "%s", buf[0] != '\0' ? buf : "the request is billed");
    }
    return cost;
}

bool
pool_anlas_fits(const pool_anlas_req *r, const pool_key_policy *k, int64_t *cost, char *why,
                size_t whylen)
{
    char reason[200] = "";
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
