/* The image and account routes: subscription, generate-image (ZIP or JSON), image streams
 * (msgpack or SSE), augment, upscale, vibe encoding and tag suggestions. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cost.h"
#include "png.h"
#include "reply.h"
#include "routes.h"
#include "zip.h"

#define MAX_SAMPLES 8
#define MAX_BODY (16u << 20)
#define VIBE_BYTES (48u * 1024)
#define FAIL_MARK "FAIL_MID_STREAM"

struct image_request {
    const char *model;
    const char *input;
    struct image_cost_input cost;
    uint32_t seed;
};

void
route_subscription(struct call *c)
{
    const struct token *t = c->tok;
    json_t *limits = json_pack("[{s:i, s:i}, {s:i, s:i}]", "resolution", 4194304, "maxPrompts", 0,
                               "resolution", 1048576, "maxPrompts", 1);
    json_t *perks = json_pack(
        "{s:i, s:i, s:i, s:b, s:b, s:b, s:b, s:o, s:i}", "maxPriorityActions", 1000,
        "startPriority", 10, "moduleTrainingSteps", t->tier == 3 ? 10000 : 0,
        "unlimitedMaxPriority", t->tier == 3, "voiceGeneration", t->tier >= 2, "imageGeneration",
        true, "unlimitedImageGeneration", t->tier == 3 && t->active,
        "unlimitedImageGenerationLimits", limits, "contextTokens", t->tier == 3 ? 8192 : 4096);
    json_t *sub = json_pack(
        "{s:i, s:b, s:I, s:o, s:n, s:{s:I, s:i}, s:i, s:b, s:{s:f, s:b, s:i}}", "tier", t->tier,
        "active", t->active, "expiresAt", (json_int_t)t->expires_at, "perks", perks,
        "paymentProcessorData", "trainingStepsLeft", "fixedTrainingStepsLeft", (json_int_t)t->anlas,
        "purchasedTrainingSteps", 0, "accountType", 0, "isGracePeriod", false, "usage", "percent",
        t->v5_allowance_of > 0
            ? (t->v5_negative ? 0.0 : 100.0 * (double)t->v5_allowance / (double)t->v5_allowance_of)
        : t->v5_negative ? 100.0
                         : 12.5,
        "isNegative", t->v5_negative, "timeUntilNextPercent", 3600);
    if (c->fake->sub_latency_ms == 0) {
        call_json(c, 200, sub);
        return;
    }
    /* A slow NovelAI (subscription_latency_ms in /__config): the same answer, later. */
    char *text = json_dumps(sub, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(sub);
    if (text == NULL) {
        call_error(c, 500, "Out of memory");
        return;
    }
    h2o_iovec_t *chunk = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunk));
    *chunk = h2o_strdup(&c->req->pool, text, strlen(text));
    free(text);
    struct stream_spec spec = {.status = 200,
                               .content_type = "application/json",
                               .chunks = chunk,
                               .nchunks = 1,
                               .first_ms = c->fake->sub_latency_ms};
    stats_count_response(&c->fake->stats, 200);
    stream_start(&c->fake->streams, c->req, NULL, &spec);
}

/* Reads an optional integer parameter in [min, max]; false when present but invalid. */
static bool
get_uint(const json_t *obj, const char *key, unsigned dflt, unsigned min, unsigned max,
         unsigned *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return false;
    }
    *out = (unsigned)json_integer_value(v);
    return true;
}

/* Validates a generate-image body the way NovelAI does; sends 400 and returns false if not. */
static bool
parse_image_request(struct call *c, struct image_request *ir)
{
    const json_t *body = c->body;
    const json_t *params = json_object_get(body, "parameters");

    memset(ir, 0, sizeof(*ir));
    ir->model = json_string_value(json_object_get(body, "model"));
    ir->input = json_string_value(json_object_get(body, "input"));
    if (ir->model == NULL || ir->model[0] == '\0') {
        call_error(c, 400, "model is required");
        return false;
    }
    if (strncmp(ir->model, "nai-diffusion", 13) != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Unknown model: %.64s", ir->model);
        call_error(c, 400, msg);
        return false;
    }
    if (params != NULL && !json_is_object(params)) {
        call_error(c, 400, "parameters must be an object");
        return false;
    }
    unsigned seed;
    struct image_cost_input *in = &ir->cost;
    if (!get_uint(params, "width", 832, 64, 16384, &in->width) ||
        !get_uint(params, "height", 1216, 64, 16384, &in->height) || in->width % 64 != 0 ||
        in->height % 64 != 0) {
        call_error(c, 400, "width and height must be positive multiples of 64");
        return false;
    }
    if ((uint64_t)in->width * in->height > 3145728) {
        call_error(c, 400, "width * height must not exceed 3145728");
        return false;
    }
    if (!get_uint(params, "steps", 28, 1, 50, &in->steps)) {
        call_error(c, 400, "steps must be between 1 and 50");
        return false;
    }
    if (!get_uint(params, "n_samples", 1, 1, MAX_SAMPLES, &in->n_samples)) {
        call_error(c, 400, "n_samples must be between 1 and 8");
        return false;
    }
    if (!get_uint(params, "seed", 1, 0, UINT32_MAX, &seed)) {
        call_error(c, 400, "seed must be an unsigned 32-bit integer");
        return false;
    }
    ir->seed = seed;
    in->smea = json_is_true(json_object_get(params, "sm"));
    in->smea_dyn = json_is_true(json_object_get(params, "sm_dyn"));
    in->v5 = strncmp(ir->model, "nai-diffusion-5", 15) == 0;
    in->strength = 1.0;
    const char *action = json_string_value(json_object_get(body, "action"));
    /* An inpaint (a mask is present) is scaled by inpaintImg2ImgStrength, default 1, and
     * not by strength; img2img by strength. */
    bool mask = json_object_get(params, "mask") != NULL;
    const char *scale_by = mask ? "inpaintImg2ImgStrength" : "strength";
    if (mask ||
        (action != NULL && (strcmp(action, "img2img") == 0 || strcmp(action, "infill") == 0))) {
        const json_t *s = json_object_get(params, scale_by);
        in->strength = json_is_number(s) ? json_number_value(s) : mask ? 1.0 : 0.7;
        if (in->strength < 0.01 || in->strength > 1.0) {
            call_error(c, 400, "strength must be between 0.01 and 1");
            return false;
        }
    }
    /* The web client sends references and vibes as *_cached entries: NovelAI bills both. */
    in->refs =
        (unsigned)(json_array_size(json_object_get(params, "director_reference_images")) +
                   json_array_size(json_object_get(params, "director_reference_images_cached")));
    in->vibes =
        (unsigned)(json_array_size(json_object_get(params, "reference_image_multiple")) +
                   json_array_size(json_object_get(params, "reference_image_multiple_cached")));
    /* A vibe that is an image (PNG, JPEG, WebP or GIF in base64, or a data URL) rather than an
     * encoding is encoded first, which NovelAI bills like /ai/encode-vibe. */
    const json_t *plain = json_object_get(params, "reference_image_multiple");
    static const char *const image_starts[] = {"iVBORw0KGgo", "/9j/",        "UklGR",
                                               "R0lGOD",      "data:image/", NULL};
    for (size_t i = 0; i < json_array_size(plain); i++) {
        const char *v = json_string_value(json_array_get(plain, i));
        for (int k = 0; v != NULL && image_starts[k] != NULL; k++) {
            if (strncmp(v, image_starts[k], strlen(image_starts[k])) == 0) {
                in->raw_vibes++;
                break;
            }
        }
    }
    in->v3 = strcmp(ir->model, "nai-diffusion-3") == 0 ||
             strncmp(ir->model, "nai-diffusion-furry-3", 21) == 0 ||
             strncmp(ir->model, "nai-diffusion-3-", 16) == 0;
    return true;
}

/* Builds n PNGs (seed, seed+1, ...) as a ZIP or, when the client asked for JSON, as
 * {"images":[{image,index,seed}]}; the result lives in the request's pool. */
static bool
images_body(struct call *c, uint32_t seed, unsigned n, h2o_iovec_t *out, const char **ctype)
{
    struct buf pngs[MAX_SAMPLES];
    struct zip_entry entries[MAX_SAMPLES];
    char names[MAX_SAMPLES][24];
    struct buf zip;
    bool ok = true;

    buf_init(&zip, MAX_BODY);
    for (unsigned i = 0; i < n; i++) {
        buf_init(&pngs[i], MAX_BODY);
        ok = ok && png_build(&pngs[i], seed + i);
        snprintf(names[i], sizeof(names[i]), "image_%u.png", i);
        entries[i] = (struct zip_entry){names[i], pngs[i].data, pngs[i].len};
    }
    if (ok && call_accepts_json(c)) {
        json_t *images = json_array();
        for (unsigned i = 0; i < n; i++) {
            char b64[1024];
            if (h2o_base64_encode_capacity(pngs[i].len) > sizeof(b64)) {
                ok = false;
                break;
            }
            h2o_base64_encode(b64, pngs[i].data, pngs[i].len, 0);
            json_array_append_new(images, json_pack("{s:s, s:i, s:I}", "image", b64, "index",
                                                    (int)i, "seed", (json_int_t)(seed + i)));
        }
        json_t *doc = json_pack("{s:o}", "images", images);
        char *text = ok ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(doc);
        ok = text != NULL;
        if (ok) {
            *out = pool_dup(c->req, text, strlen(text));
        }
        free(text);
        *ctype = "application/json";
    } else if (ok) {
        ok = zip_build(&zip, entries, n);
        *out = pool_dup(c->req, zip.data, zip.len);
        *ctype = "application/x-zip-compressed";
    }
    for (unsigned i = 0; i < n; i++) {
        buf_fini(&pngs[i]);
    }
    buf_fini(&zip);
    return ok;
}

/* Answers an image route with n images, holding the lock and charging cost. */
static void
answer_images(struct call *c, int64_t cost, uint32_t seed, unsigned n)
{
    h2o_iovec_t *chunk = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunk));
    const char *ctype;
    if (!images_body(c, seed, n, chunk, &ctype)) {
        call_error(c, 500, "Could not build the images");
        return;
    }
    struct stream_spec spec = {.status = 200, .content_type = ctype, .chunks = chunk, .nchunks = 1};
    gen_answer(c, cost, &spec);
}

void
route_generate_image(struct call *c)
{
    struct image_request ir;
    if (!parse_image_request(c, &ir)) {
        return;
    }
    int64_t cost = cost_image(c->tok, &ir.cost);
    if (!gen_check_funds(c, cost, false)) {
        return;
    }
    cost_use_v5_allowance(c->tok, &ir.cost);
    answer_images(c, cost, ir.seed, ir.cost.n_samples);
}

/* One event of an image stream, before it is framed as msgpack or SSE. */
struct image_event {
    const char *type; /* intermediate, final or error */
    unsigned samp_ix, step_ix;
    const char *gen_id;
    double sigma;
    uint32_t seed;
};

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static bool
msgpack_event(struct buf *out, const struct image_event *ev, const struct buf *png)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    bool error = strcmp(ev->type, "error") == 0;

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pack_str(&pk, "event_type");
    pack_str(&pk, ev->type);
    pack_str(&pk, "samp_ix");
    msgpack_pack_unsigned_int(&pk, ev->samp_ix);
    pack_str(&pk, "step_ix");
    msgpack_pack_unsigned_int(&pk, ev->step_ix);
    pack_str(&pk, "gen_id");
    pack_str(&pk, ev->gen_id);
    if (error) {
        pack_str(&pk, "code");
        msgpack_pack_int(&pk, 500);
        pack_str(&pk, "message");
        pack_str(&pk, "Internal error during generation");
    } else {
        pack_str(&pk, "sigma");
        msgpack_pack_double(&pk, ev->sigma);
        pack_str(&pk, "image");
        msgpack_pack_bin(&pk, png->len);
        msgpack_pack_bin_body(&pk, png->data, png->len);
    }
    bool ok = buf_append_be32(out, (uint32_t)sbuf.size) && buf_append(out, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy(&sbuf);
    return ok;
}

static bool
sse_event(struct buf *out, const struct image_event *ev, const struct buf *png)
{
    json_t *o = json_pack("{s:s, s:i, s:i, s:s}", "event_type", ev->type, "samp_ix",
                          (int)ev->samp_ix, "step_ix", (int)ev->step_ix, "gen_id", ev->gen_id);
    if (strcmp(ev->type, "error") == 0) {
        json_object_set_new(o, "code", json_integer(500));
        json_object_set_new(o, "message", json_string("Internal error during generation"));
    } else {
        char b64[1024];
        if (h2o_base64_encode_capacity(png->len) > sizeof(b64)) {
            json_decref(o);
            return false;
        }
        h2o_base64_encode(b64, png->data, png->len, 0);
        json_object_set_new(o, "sigma", json_real(ev->sigma));
        json_object_set_new(o, "image", json_string(b64));
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    bool ok = text != NULL && buf_printf(out, "event: %s\ndata: %s\n\n", ev->type, text);
    free(text);
    return ok;
}

static bool
add_event(struct call *c, bool sse, const struct image_event *ev, h2o_iovec_t *chunk)
{
    struct buf png, frame;
    buf_init(&png, MAX_BODY);
    buf_init(&frame, MAX_BODY);
    bool ok = png_build(&png, ev->seed + ev->step_ix * 7919u) &&
              (sse ? sse_event(&frame, ev, &png) : msgpack_event(&frame, ev, &png));
    if (ok) {
        *chunk = pool_dup(c->req, frame.data, frame.len);
    }
    buf_fini(&png);
    buf_fini(&frame);
    return ok;
}

void
route_generate_image_stream(struct call *c)
{
    struct image_request ir;
    if (!parse_image_request(c, &ir)) {
        return;
    }
    const char *kind =
        json_string_value(json_object_get(json_object_get(c->body, "parameters"), "stream"));
    if (kind == NULL) {
        kind = "msgpack";
    }
    bool sse = strcmp(kind, "sse") == 0;
    if (!sse && strcmp(kind, "msgpack") != 0) {
        call_error(c, 400, "parameters.stream must be \"msgpack\" or \"sse\"");
        return;
    }
    int64_t cost = cost_image(c->tok, &ir.cost);
    if (!gen_check_funds(c, cost, false)) {
        return;
    }
    cost_use_v5_allowance(c->tok, &ir.cost);

    /* Per sample: three intermediate previews, then the final image. */
    enum { EVENTS_PER_SAMPLE = 4 };
    bool fail = ir.input != NULL && strstr(ir.input, FAIL_MARK) != NULL;
    size_t max_events = (size_t)ir.cost.n_samples * EVENTS_PER_SAMPLE;
    h2o_iovec_t *chunks = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunks) * max_events);
    char gen_id[32];
    size_t n = 0;
    snprintf(gen_id, sizeof(gen_id), "fake-%llu", (unsigned long long)++c->fake->gen_ids);
    /* NovelAI reports a failed generation inside the 200 stream: one preview, then an error. */
    size_t limit = fail ? 2 : max_events;
    for (unsigned s = 0; s < ir.cost.n_samples && n < limit; s++) {
        for (unsigned k = 1; k <= EVENTS_PER_SAMPLE && n < limit; k++) {
            bool final = k == EVENTS_PER_SAMPLE;
            struct image_event ev = {
                .type = final ? "final" : "intermediate",
                .samp_ix = s,
                .step_ix = final ? ir.cost.steps - 1 : ir.cost.steps * k / EVENTS_PER_SAMPLE,
                .gen_id = gen_id,
                .sigma = final ? 0.0 : 14.6 * (1.0 - (double)k / EVENTS_PER_SAMPLE),
                .seed = ir.seed + s,
            };
            if (fail && n == 1) {
                ev.type = "error";
            }
            if (!add_event(c, sse, &ev, &chunks[n])) {
                call_error(c, 500, "Could not build the stream");
                return;
            }
            n++;
        }
    }
    struct stream_spec spec = {
        .status = 200,
        .content_type = sse ? "text/event-stream" : "application/msgpack",
        .chunks = chunks,
        .nchunks = n,
        .gap_ms = c->fake->event_delay_ms,
        .trickle = true,
    };
    gen_answer(c, cost, &spec);
}

void
route_augment_image(struct call *c)
{
    static const char *const types[] = {"bg-removal",
                                        "colorize",
                                        "lineart",
                                        "sketch",
                                        "emotion",
                                        "declutter",
                                        "declutter-keep-bubbles"};
    const char *req_type = json_string_value(json_object_get(c->body, "req_type"));
    size_t i = 0;
    while (req_type != NULL && i < sizeof(types) / sizeof(types[0]) &&
           strcmp(req_type, types[i]) != 0) {
        i++;
    }
    if (req_type == NULL || i == sizeof(types) / sizeof(types[0])) {
        call_error(c, 400,
                   "req_type must be one of bg-removal, colorize, lineart, sketch, "
                   "emotion, declutter, declutter-keep-bubbles");
        return;
    }
    struct image_cost_input in = {.n_samples = 1, .steps = 28, .strength = 1.0};
    if (!get_uint(c->body, "width", 0, 1, 16384, &in.width) ||
        !get_uint(c->body, "height", 0, 1, 16384, &in.height) || in.width == 0 || in.height == 0) {
        call_error(c, 400, "width and height are required");
        return;
    }
    /* A V3 image at 28 steps of that size; background removal is billed even on Opus, at
     * three times that plus 5 (65 at 832x1216); the other tools follow the free rule. */
    int64_t cost =
        strcmp(req_type, "bg-removal") == 0 ? 3 * cost_sample(&in) + 5 : cost_image(c->tok, &in);
    if (!gen_check_funds(c, cost, false)) {
        return;
    }
    answer_images(c, cost, (uint32_t)in.width * 31u + in.height, 1);
}

void
route_upscale(struct call *c)
{
    unsigned width, height, scale;
    if (!get_uint(c->body, "width", 0, 1, 16384, &width) ||
        !get_uint(c->body, "height", 0, 1, 16384, &height) || width == 0 || height == 0 ||
        !get_uint(c->body, "scale", 4, 2, 4, &scale)) {
        call_error(c, 400, "width and height are required; scale is 2 or 4");
        return;
    }
    if (!json_is_string(json_object_get(c->body, "image"))) {
        call_error(c, 400, "image is required");
        return;
    }
    /* Never free: 1 / 2 / 3 / 4 Anlas by the source's pixels. */
    uint64_t px = (uint64_t)width * height;
    int64_t cost = px <= 1048576 ? 1 : px <= 1747627 ? 2 : px <= 2446678 ? 3 : 4;
    if (!gen_check_funds(c, cost, false)) {
        return;
    }
    answer_images(c, cost, width * 31u + height + scale, 1);
}

void
route_encode_vibe(struct call *c)
{
    const char *image = json_string_value(json_object_get(c->body, "image"));
    const char *model = json_string_value(json_object_get(c->body, "model"));
    if (image == NULL || model == NULL) {
        call_error(c, 400, "image and model are required");
        return;
    }
    int64_t cost = 2;
    if (!gen_check_funds(c, cost, false)) {
        return;
    }
    /* Deterministic bytes: the same image and model always encode to the same vibe. */
    h2o_iovec_t *chunk = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunk));
    *chunk = h2o_iovec_init(h2o_mem_alloc_pool(&c->req->pool, VIBE_BYTES), VIBE_BYTES);
    uint32_t x = 2166136261u;
    for (const char *p = image; *p != '\0'; p++) {
        x = (x ^ (unsigned char)*p) * 16777619u;
    }
    for (const char *p = model; *p != '\0'; p++) {
        x = (x ^ (unsigned char)*p) * 16777619u;
    }
    for (size_t i = 0; i < VIBE_BYTES; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        chunk->base[i] = (char)x;
    }
    struct stream_spec spec = {
        .status = 200, .content_type = "application/binary", .chunks = chunk, .nchunks = 1};
    gen_answer(c, cost, &spec);
}

void
route_suggest_tags(struct call *c)
{
    static const char *const suffixes[] = {"hair", "eyes", "dress", "sky", "background"};
    char prompt[128];
    if (!call_query(c, "prompt", prompt, sizeof(prompt)) || prompt[0] == '\0') {
        snprintf(prompt, sizeof(prompt), "blue");
    }
    if (strcmp(prompt, "FAKE_UNAVAILABLE") == 0) {
        /* NovelAI down for maintenance, with a hint when to come back (a relay test). */
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("17"));
        call_error(c, 503, "Service Unavailable");
        return;
    }
    json_t *tags = json_array();
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        json_array_append_new(tags, json_pack("{s:s++, s:I, s:f}", "tag", prompt, " ", suffixes[i],
                                              "count", (json_int_t)(500000 >> i), "confidence",
                                              0.9 - 0.15 * (double)i));
    }
    call_json(c, 200, json_pack("{s:o}", "tags", tags));
}
