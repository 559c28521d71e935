/* The text and voice routes: /ai/generate(-stream), the OpenAI-shaped /oa/v1 routes, and TTS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "reply.h"
#include "routes.h"

#define MAX_CHUNK (64u << 10)

/* Every text route answers with this continuation, one word per streamed event. */
static const char *const words[] = {" The", " lantern", " flickered", " and",
                                    " the", " story",   " went",      " on."};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static void
full_text(char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NWORDS && n < outlen; i++) {
        int w = snprintf(out + n, outlen - n, "%s", words[i]);
        n += w > 0 ? (size_t)w : 0;
    }
}

/* Copies a heap string into the request's pool as a chunk, and frees it. */
static bool
take_chunk(struct call *c, char *text, h2o_iovec_t *chunk)
{
    if (text == NULL) {
        return false;
    }
    *chunk = pool_dup(c->req, text, strlen(text));
    free(text);
    return true;
}

static char *
dump_sse(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (text == NULL) {
        return NULL;
    }
    struct buf b;
    buf_init(&b, MAX_CHUNK);
    bool ok = buf_printf(&b, "data: %s\n\n", text) && buf_append_u8(&b, 0);
    free(text);
    if (!ok) {
        buf_fini(&b);
        return NULL;
    }
    return (char *)b.data;
}

static void
answer_json(struct call *c, json_t *doc)
{
    h2o_iovec_t *chunk = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunk));
    if (!take_chunk(c, json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6)), chunk)) {
        json_decref(doc);
        call_error(c, 500, "Out of memory");
        return;
    }
    json_decref(doc);
    struct stream_spec spec = {
        .status = 200, .content_type = "application/json", .chunks = chunk, .nchunks = 1};
    gen_answer(c, 0, &spec);
}

static void
answer_stream(struct call *c, h2o_iovec_t *chunks, size_t n)
{
    struct stream_spec spec = {
        .status = 200,
        .content_type = "text/event-stream",
        .chunks = chunks,
        .nchunks = n,
        .gap_ms = c->fake->event_delay_ms,
        .trickle = true,
    };
    gen_answer(c, 0, &spec);
}

/* Checks model and subscription for a text route; answers 400/402/403 and returns false. */
static bool
text_admit(struct call *c, const char **model)
{
    *model = json_string_value(json_object_get(c->body, "model"));
    if (*model == NULL || (*model)[0] == '\0') {
        call_error(c, 400, "model is required");
        return false;
    }
    if (strcmp(*model, "xialong-v1") == 0 && c->tok->tier != 3) {
        call_error(c, 403, "This model is not available for your subscription tier");
        return false;
    }
    return gen_check_funds(c, 0, true);
}

void
route_text_generate(struct call *c)
{
    const char *model;
    if (!json_is_string(json_object_get(c->body, "input"))) {
        call_error(c, 400, "input is required");
        return;
    }
    if (!text_admit(c, &model)) {
        return;
    }
    char text[256];
    full_text(text, sizeof(text));
    answer_json(c, json_pack("{s:s}", "output", text));
}

void
route_text_generate_stream(struct call *c)
{
    const char *model;
    if (!json_is_string(json_object_get(c->body, "input"))) {
        call_error(c, 400, "input is required");
        return;
    }
    if (!text_admit(c, &model)) {
        return;
    }
    h2o_iovec_t *chunks = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunks) * NWORDS);
    for (size_t i = 0; i < NWORDS; i++) {
        char b64[64];
        h2o_base64_encode(b64, words[i], strlen(words[i]), 0);
        json_t *o =
            json_pack("{s:s, s:i, s:b}", "token", b64, "ptr", (int)i, "final", i + 1 == NWORDS);
        char *data = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        struct buf b;
        buf_init(&b, MAX_CHUNK);
        bool ok =
            data != NULL && buf_printf(&b, "event: newToken\nid: %zu\ndata: %s\n\n", i + 1, data);
        free(data);
        if (ok) {
            chunks[i] = pool_dup(c->req, b.data, b.len);
        }
        buf_fini(&b);
        if (!ok) {
            call_error(c, 500, "Out of memory");
            return;
        }
    }
    answer_stream(c, chunks, NWORDS);
}

/* The OpenAI-shaped routes share one shape builder; chat differs in message vs delta. */
static void
oa_answer(struct call *c, bool chat)
{
    const char *model;
    if (chat && json_array_size(json_object_get(c->body, "messages")) == 0) {
        call_error(c, 400, "messages must be a non-empty array");
        return;
    }
    if (!chat && !json_is_string(json_object_get(c->body, "prompt"))) {
        call_error(c, 400, "prompt is required");
        return;
    }
    if (!text_admit(c, &model)) {
        return;
    }
    char id[48];
    snprintf(id, sizeof(id), "%s-fake-%llu", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)++c->fake->gen_ids);
    json_int_t created = (json_int_t)time(NULL);
    const char *object = chat ? "chat.completion" : "text_completion";

    if (!json_is_true(json_object_get(c->body, "stream"))) {
        char text[256];
        full_text(text, sizeof(text));
        json_t *choice = chat ? json_pack("{s:i, s:{s:s, s:s}, s:s}", "index", 0, "message", "role",
                                          "assistant", "content", text, "finish_reason", "stop")
                              : json_pack("{s:i, s:s, s:n, s:s}", "index", 0, "text", text,
                                          "logprobs", "finish_reason", "stop");
        answer_json(c, json_pack("{s:s, s:s, s:I, s:s, s:[o], s:{s:i, s:i, s:i}}", "id", id,
                                 "object", object, "created", created, "model", model, "choices",
                                 choice, "usage", "prompt_tokens", 8, "completion_tokens",
                                 (int)NWORDS, "total_tokens", 8 + (int)NWORDS));
        return;
    }

    /* One chunk per word, a closing chunk with finish_reason, then [DONE]. */
    size_t n = NWORDS + 2;
    h2o_iovec_t *chunks = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunks) * n);
    const char *chunk_object = chat ? "chat.completion.chunk" : "text_completion";
    for (size_t i = 0; i <= NWORDS; i++) {
        bool last = i == NWORDS;
        json_t *choice;
        if (chat) {
            choice =
                json_pack("{s:i, s:o, s:s?}", "index", 0, "delta",
                          last ? json_object()
                               : json_pack("{s:s, s:s}", "role", "assistant", "content", words[i]),
                          "finish_reason", last ? "stop" : NULL);
        } else {
            choice = json_pack("{s:i, s:s, s:n, s:s?}", "index", 0, "text", last ? "" : words[i],
                               "logprobs", "finish_reason", last ? "stop" : NULL);
        }
        json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", id, "object", chunk_object,
                              "created", created, "model", model, "choices", choice);
        if (!take_chunk(c, dump_sse(o), &chunks[i])) {
            call_error(c, 500, "Out of memory");
            return;
        }
    }
    chunks[n - 1] = h2o_iovec_init(H2O_STRLIT("data: [DONE]\n\n"));
    answer_stream(c, chunks, n);
}

void
route_oa_completions(struct call *c)
{
    oa_answer(c, false);
}

void
route_oa_chat_completions(struct call *c)
{
    oa_answer(c, true);
}

void
route_oa_models(struct call *c)
{
    static const char *const models[] = {"glm-4-6", "xialong-v1"};
    json_t *data = json_array();
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        json_array_append_new(data,
                              json_pack("{s:s, s:s, s:i, s:s}", "id", models[i], "object", "model",
                                        "created", 1760000000, "owned_by", "novelai"));
    }
    call_json(c, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void
route_generate_voice(struct call *c)
{
    /* GET carries the text in the query (1,000 CJK characters are 3,000 bytes decoded), POST
     * in a JSON body {text, seed, voice, opus, version}. */
    char text[4096];
    char opus[8];
    bool webm = false;
    if (c->body != NULL) {
        const char *t = json_string_value(json_object_get(c->body, "text"));
        snprintf(text, sizeof(text), "%s", t != NULL ? t : "");
        webm = json_is_true(json_object_get(c->body, "opus"));
    } else if (!call_query(c, "text", text, sizeof(text))) {
        text[0] = '\0';
    }
    if (text[0] == '\0') {
        call_error(c, 400, "text is required");
        return;
    }
    if (c->body == NULL) {
        webm = call_query(c, "opus", opus, sizeof(opus)) && strcmp(opus, "true") == 0;
    }
    /* A download name, so a relay test can see Content-Disposition come back. */
    static const char mp3[] = "attachment; filename=\"voice.mp3\"";
    static const char weba[] = "attachment; filename=\"voice.webm\"";
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers, H2O_STRLIT("content-disposition"), 0,
                          NULL, webm ? weba : mp3, webm ? sizeof(weba) - 1 : sizeof(mp3) - 1);

    /* Twenty silent 128 kbit/s MPEG-1 layer III frames, or a WebM header with filler. */
    enum { FRAME = 417, FRAMES = 20 };
    size_t len = FRAME * FRAMES;
    h2o_iovec_t *chunk = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunk));
    *chunk = h2o_iovec_init(h2o_mem_alloc_pool(&c->req->pool, len), len);
    memset(chunk->base, 0, len);
    if (webm) {
        static const unsigned char ebml[4] = {0x1a, 0x45, 0xdf, 0xa3};
        memcpy(chunk->base, ebml, sizeof(ebml));
    } else {
        static const unsigned char header[4] = {0xff, 0xfb, 0x90, 0x64};
        for (size_t i = 0; i < FRAMES; i++) {
            memcpy(chunk->base + i * FRAME, header, sizeof(header));
        }
    }
    struct stream_spec spec = {.status = 200,
                               .content_type = webm ? "audio/webm" : "audio/mpeg",
                               .chunks = chunk,
                               .nchunks = 1};
    call_later(c, &spec);
}

void
route_token_count(struct call *c)
{
    /* The text model's tokenizer, roughly: one token per four bytes of the prompt. */
    const char *prompt = json_string_value(json_object_get(c->body, "prompt"));
    if (prompt == NULL) {
        prompt = json_string_value(json_object_get(c->body, "text"));
    }
    if (prompt == NULL) {
        call_error(c, 400, "prompt is required");
        return;
    }
    size_t n = strlen(prompt);
    call_json(c, 200, json_pack("{s:I}", "length", (json_int_t)((n + 3) / 4)));
}
