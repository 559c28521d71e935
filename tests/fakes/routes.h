/* Request dispatch for the fake NovelAI, and the helpers its route modules share. */
#ifndef FAKE_ROUTES_H
#define FAKE_ROUTES_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "stats.h"
#include "stream.h"
#include "tokens.h"

/* An answer forced by POST /__force: the next `times` requests to route (any token) get it. */
#define FAKE_FORCED_MAX 8
struct forced_answer {
    char route[128];
    int status;
    char message[256];
    unsigned times;
};

struct fake {
    struct token_table tokens;
    struct stats stats;
    struct streams streams;
    unsigned latency_ms;     /* how long a generation holds its answer (and the lock) */
    unsigned event_delay_ms; /* gap between streamed events */
    unsigned sub_latency_ms; /* how long GET /user/subscription takes to answer */
    uint64_t gen_ids;
    struct forced_answer forced[FAKE_FORCED_MAX];
};

/* One request on its way through a route handler. */
struct call {
    struct fake *fake;
    h2o_req_t *req;
    struct token *tok; /* the authenticated account; NULL on control routes */
    json_t *body;      /* the parsed body of a POST route, owned by the dispatcher */
};

void fake_init(struct fake *f, h2o_loop_t *loop, unsigned latency_ms, unsigned event_delay_ms);
/* fake_fini: drops running streams, stats and tokens (shutdown only). */
void fake_fini(struct fake *f);
/* fake_handle: answers any request (H2O's on_req contract: returns 0). */
int fake_handle(struct fake *f, h2o_req_t *req);

/* Answers that also count the status in the stats. */
void call_error(struct call *c, int status, const char *message);
void call_json(struct call *c, int status, json_t *body /* consumed */);
void call_bytes(struct call *c, int status, const char *content_type, const void *p, size_t n);
/* call_later: answers after the current latency, without taking the lock (spec->first_ms set). */
void call_later(struct call *c, struct stream_spec *spec);
/* call_query: the URL-decoded value of a query parameter; false if absent or longer than out. */
bool call_query(const struct call *c, const char *name, char *out, size_t outlen);
bool call_accepts_json(const struct call *c);
unsigned call_latency(const struct call *c);

/* gen_check_funds: 402 (and false) when a generation costing cost cannot be paid, or, with
 * need_subscription, when the account has no active subscription. */
bool gen_check_funds(struct call *c, int64_t cost, bool need_subscription);
/* gen_answer: answers a generation while holding the account's lock for the latency (and for
 * every chunk of a stream), charging cost. Flaky accounts fail every second one with a 500.
 * spec->first_ms is set here. */
void gen_answer(struct call *c, int64_t cost, struct stream_spec *spec);

/* Route handlers (image.c, text.c). */
void route_subscription(struct call *c);
void route_generate_image(struct call *c);
void route_generate_image_stream(struct call *c);
void route_augment_image(struct call *c);
void route_upscale(struct call *c);
void route_encode_vibe(struct call *c);
void route_suggest_tags(struct call *c);
void route_text_generate(struct call *c);
void route_text_generate_stream(struct call *c);
void route_oa_completions(struct call *c);
void route_oa_chat_completions(struct call *c);
void route_oa_models(struct call *c);
void route_generate_voice(struct call *c);
void route_token_count(struct call *c);
/* control_handle: the test-only /__* endpoints (control.c). */
void control_handle(struct fake *f, h2o_req_t *req);
/* control_forced: the forced answer due for route (one use of it is spent), or NULL. */
const struct forced_answer *control_forced(struct fake *f, const char *route);

#endif
