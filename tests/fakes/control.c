/* Test-only control endpoints (/__tokens, /__reset, /__config, /__stats, /__last, /__force); they
 * need no token and are not counted in the stats. */
#include <stdio.h>
#include <string.h>

#include "reply.h"
#include "routes.h"

static bool
is(const h2o_req_t *req, const char *method, const char *path)
{
    return req->method.len == strlen(method) &&
           memcmp(req->method.base, method, req->method.len) == 0 &&
           req->path_normalized.len == strlen(path) &&
           memcmp(req->path_normalized.base, path, req->path_normalized.len) == 0;
}

static json_t *
config_json(const struct fake *f)
{
    return json_pack("{s:i, s:i, s:i}", "latency_ms", (int)f->latency_ms, "event_delay_ms",
                     (int)f->event_delay_ms, "subscription_latency_ms", (int)f->sub_latency_ms);
}

/* Reads a JSON body; answers 400 and returns NULL when it is not JSON. */
static json_t *
load_body(h2o_req_t *req)
{
    json_error_t jerr;
    json_t *v =
        json_loadb(req->entity.base != NULL ? req->entity.base : "", req->entity.len, 0, &jerr);
    if (v == NULL) {
        reply_error(req, 400, jerr.text);
    }
    return v;
}

static void
set_config(struct fake *f, h2o_req_t *req)
{
    json_t *v = load_body(req);
    if (v == NULL) {
        return;
    }
    json_t *latency = json_object_get(v, "latency_ms");
    json_t *delay = json_object_get(v, "event_delay_ms");
    json_t *sub = json_object_get(v, "subscription_latency_ms");
    if ((latency != NULL && (!json_is_integer(latency) || json_integer_value(latency) < 0 ||
                             json_integer_value(latency) > 600000)) ||
        (delay != NULL && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
                           json_integer_value(delay) > 600000)) ||
        (sub != NULL && (!json_is_integer(sub) || json_integer_value(sub) < 0 ||
                         json_integer_value(sub) > 600000))) {
        json_decref(v);
        reply_error(req, 400,
                    "latency_ms, event_delay_ms and subscription_latency_ms are integers in "
                    "[0, 600000]");
        return;
    }
    if (sub != NULL) {
        f->sub_latency_ms = (unsigned)json_integer_value(sub);
    }
    if (latency != NULL) {
        f->latency_ms = (unsigned)json_integer_value(latency);
    }
    if (delay != NULL) {
        f->event_delay_ms = (unsigned)json_integer_value(delay);
    }
    json_decref(v);
    reply_json(req, 200, config_json(f));
}

static void
add_tokens(struct fake *f, h2o_req_t *req)
{
    json_t *v = load_body(req);
    if (v == NULL) {
        return;
    }
    char err[256];
    bool ok = tokens_load_json(&f->tokens, v, err, sizeof(err));
    json_decref(v);
    if (!ok) {
        reply_error(req, 400, err);
        return;
    }
    reply_json(req, 200, json_pack("{s:b, s:I}", "ok", true, "count", (json_int_t)f->tokens.count));
}

static void
show_last(struct fake *f, h2o_req_t *req)
{
    struct call c = {.fake = f, .req = req};
    char route[256];
    if (!call_query(&c, "route", route, sizeof(route))) {
        reply_error(req, 400, "route query parameter is required");
        return;
    }
    json_t *rec = stats_last(&f->stats, route);
    if (rec == NULL) {
        reply_error(req, 404, "No request seen on this route");
        return;
    }
    reply_json(req, 200, json_incref(rec));
}

/* POST /__force {"route", "status", "message", "times"}: the next `times` (default 1)
 * requests to route answer status with NovelAI's error shape; times 0 clears it. */
static void
set_forced(struct fake *f, h2o_req_t *req)
{
    json_t *v = load_body(req);
    if (v == NULL) {
        return;
    }
    const char *route = json_string_value(json_object_get(v, "route"));
    const char *message = json_string_value(json_object_get(v, "message"));
    const json_t *status = json_object_get(v, "status");
    const json_t *times = json_object_get(v, "times");
    if (route == NULL || strlen(route) >= sizeof(f->forced[0].route) || !json_is_integer(status) ||
        json_integer_value(status) < 400 || json_integer_value(status) > 599 ||
        (times != NULL && (!json_is_integer(times) || json_integer_value(times) < 0 ||
                           json_integer_value(times) > 1000))) {
        json_decref(v);
        reply_error(req, 400, "route (string), status (400..599) and times (0..1000) expected");
        return;
    }
    struct forced_answer *slot = NULL;
    for (int i = 0; i < FAKE_FORCED_MAX; i++) {
        if (strcmp(f->forced[i].route, route) == 0 || (slot == NULL && f->forced[i].times == 0)) {
            slot = &f->forced[i];
        }
    }
    if (slot == NULL) {
        json_decref(v);
        reply_error(req, 400, "too many forced answers at once");
        return;
    }
    snprintf(slot->route, sizeof(slot->route), "%s", route);
    snprintf(slot->message, sizeof(slot->message), "%s",
             message != NULL ? message : "Internal server error");
    slot->status = (int)json_integer_value(status);
    slot->times = times != NULL ? (unsigned)json_integer_value(times) : 1;
    json_decref(v);
    reply_json(req, 200, json_pack("{s:b}", "ok", true));
}

const struct forced_answer *
control_forced(struct fake *f, const char *route)
{
    for (int i = 0; i < FAKE_FORCED_MAX; i++) {
        if (f->forced[i].times > 0 && strcmp(f->forced[i].route, route) == 0) {
            f->forced[i].times--;
            return &f->forced[i];
        }
    }
    return NULL;
}

void
control_handle(struct fake *f, h2o_req_t *req)
{
    if (is(req, "GET", "/__stats")) {
        reply_json(req, 200, stats_to_json(&f->stats, f->streams.count));
    } else if (is(req, "POST", "/__reset")) {
        stats_reset(&f->stats);
        reply_json(req, 200, json_pack("{s:b}", "ok", true));
    } else if (is(req, "GET", "/__config")) {
        reply_json(req, 200, config_json(f));
    } else if (is(req, "POST", "/__config")) {
        set_config(f, req);
    } else if (is(req, "GET", "/__tokens")) {
        reply_json(req, 200, tokens_to_json(&f->tokens));
    } else if (is(req, "POST", "/__tokens")) {
        add_tokens(f, req);
    } else if (is(req, "POST", "/__force")) {
        set_forced(f, req);
    } else if (is(req, "GET", "/__last")) {
        show_last(f, req);
    } else {
        reply_error(req, 404, "Not found");
    }
}
