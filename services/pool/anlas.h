/* The Anlas guard: what a request asks for (read from its JSON body or the multipart
 * "request" part), what it would cost on a given key (NOVELAI.md, "When an image costs
 * Anlas"), and whether that key's owner allows it. The whole cost model lives here. It fails
 * closed: a field, model or body shape it does not know makes the request billed, with a
 * reason naming it, so a free-only key is never sent a request that might cost. Pure
 * functions; the relay calls them before any upstream call and the scheduler for each
 * candidate key. */
#ifndef POOL_ANLAS_H
#define POOL_ANLAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allowlist.h"
#include "np/errors.h"

/* What an Opus key does for free (settings OPUS_MAX_PIXELS, OPUS_MAX_STEPS,
 * OPUS_MAX_SAMPLES), and the margin kept on the V5 allowance (V5_ALLOWANCE_MARGIN_PERCENT):
 * a key whose last reading of usage.percent (the share of the weekly allowance left) is at
 * or under it gets no free V5 image, since its owner may spend the rest meanwhile. */
typedef struct {
    int64_t pixels, steps, samples;
    double v5_margin;
} pool_anlas_limits;

#define POOL_ANLAS_LIMITS_DEFAULT ((pool_anlas_limits){1048576, 28, 1, 1.0})

/* What one request asks for. */
typedef struct {
    pool_route_kind kind;
    char model[64]; /* "" when the route names none */
    int64_t width, height, steps, n_samples;
    bool smea, smea_dyn;
    double strength;   /* img2img strength or inpaint inpaintImg2ImgStrength; 1.0 otherwise */
    int64_t refs;      /* character / precise references (plain and cached): 5 per sample */
    int64_t vibes;     /* vibes (plain and cached): V4+ bills each beyond the 4th 2 */
    int64_t vibes_raw; /* of those, images not yet encoded: encoding bills each 2 */
    bool v3;           /* a V3 model: vibes carry no surcharge */
    bool v5;           /* nai-diffusion-5-*: x1.5, and the free image needs allowance */
    bool bg_removal;   /* augment-image req_type bg-removal */
    bool stream;       /* the body asks for a streamed answer ("stream": true) */
    pool_anlas_limits free;
    char unknown[128]; /* not "": what the model does not know; priced as billed */
} pool_anlas_req;

/* What the scheduler knows of a key when deciding whether it may serve a request. */
typedef struct {
    int tier;
    bool active;
    int64_t anlas;
    bool v5_negative;  /* usage.isNegative: the V5 allowance is used up */
    double v5_percent; /* usage.percent: the share of it left (0 when never read) */
    bool allow_paid;
    int64_t max_per_request; /* -1: no cap */
    int64_t floor;
} pool_key_policy;

/* pool_anlas_parse reads the body of a route of kind kind (ctype is the request's
 * Content-Type, may be NULL) under the free limits lim (NULL: the defaults). NP_ERR_BAD_JSON or
 * NP_ERR_INVALID with a sentence in why when the body is not what NovelAI accepts or is ambiguous
 * (not JSON, a multipart body two readers could read differently, absurd sizes...). */
np_err pool_anlas_parse(pool_route_kind kind, const char *ctype, const void *body, size_t len,
                        const pool_anlas_limits *lim, pool_anlas_req *out, char *why,
                        size_t whylen);

/* pool_anlas_sample_cost: the billed price of one image sample (before any free allowance
 * and extras). */
int64_t pool_anlas_sample_cost(const pool_anlas_req *r);

/* pool_anlas_cost returns what r costs on key k (0: free); when it is not free, why names
 * the first reason ("steps 40 > 28"). */
int64_t pool_anlas_cost(const pool_anlas_req *r, const pool_key_policy *k, char *why,
                        size_t whylen);

/* pool_anlas_fits: whether key k may serve r under its owner's policy; *cost receives the
 * estimate; why names the reason when it may not. */
bool pool_anlas_fits(const pool_anlas_req *r, const pool_key_policy *k, int64_t *cost, char *why,
                     size_t whylen);

#endif
