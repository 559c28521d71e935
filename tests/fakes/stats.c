/* Counters and last-seen requests that tests read back through GET /__stats and /__last. */
#include "stats.h"

#include <stdio.h>

/* Keys come from the network (tokens, paths); bound them so a stray client cannot grow the
 * maps without limit. */
#define MAX_KEYS 4096

void
stats_init(struct stats *st)
{
    st->requests = json_object();
    st->responses = json_object();
    st->peak = json_object();
    st->spent = json_object();
    st->last = json_object();
    st->last_headers = json_object();
    st->total = 0;
    st->lock_violations = 0;
    st->locked_rejections = 0;
}

void
stats_fini(struct stats *st)
{
    json_decref(st->requests);
    json_decref(st->responses);
    json_decref(st->peak);
    json_decref(st->spent);
    json_decref(st->last);
    json_decref(st->last_headers);
}

void
stats_reset(struct stats *st)
{
    stats_fini(st);
    stats_init(st);
}

static void
bump(json_t *map, const char *key, json_int_t by)
{
    json_t *v = json_object_get(map, key);
    if (v != NULL) {
        json_integer_set(v, json_integer_value(v) + by);
    } else if (json_object_size(map) < MAX_KEYS) {
        json_object_set_new(map, key, json_integer(by));
    }
}

void
stats_count_request(struct stats *st, const char *token, const char *route)
{
    json_t *per = json_object_get(st->requests, token);
    if (per == NULL) {
        if (json_object_size(st->requests) >= MAX_KEYS) {
            return;
        }
        per = json_object();
        json_object_set_new(st->requests, token, per);
    }
    bump(per, route, 1);
    st->total++;
}

void
stats_count_response(struct stats *st, int status)
{
    char key[16];
    snprintf(key, sizeof(key), "%d", status);
    bump(st->responses, key, 1);
}

void
stats_note_concurrency(struct stats *st, const char *token, unsigned n)
{
    json_t *v = json_object_get(st->peak, token);
    if (v == NULL) {
        bump(st->peak, token, n);
    } else if (json_integer_value(v) < n) {
        json_integer_set(v, n);
    }
}

void
stats_add_spent(struct stats *st, const char *token, int64_t anlas)
{
    bump(st->spent, token, anlas);
}

void
stats_record_last(struct stats *st, const char *route, json_t *record)
{
    json_t *headers = json_object_get(record, "headers");
    json_decref(st->last_headers);
    st->last_headers = headers != NULL ? json_incref(headers) : json_object();
    if (json_object_get(st->last, route) != NULL || json_object_size(st->last) < MAX_KEYS) {
        json_object_set_new(st->last, route, record);
    } else {
        json_decref(record);
    }
}

json_t *
stats_last(const struct stats *st, const char *route)
{
    return json_object_get(st->last, route);
}

json_t *
stats_to_json(const struct stats *st, unsigned in_flight)
{
    return json_pack("{s:O, s:I, s:I, s:I, s:O, s:O, s:O, s:i, s:O}", "requests", st->requests,
                     "total", (json_int_t)st->total, "lock_violations",
                     (json_int_t)st->lock_violations, "locked_rejections",
                     (json_int_t)st->locked_rejections, "peak_concurrency", st->peak, "responses",
                     st->responses, "anlas_spent", st->spent, "in_flight", (int)in_flight,
                     "last_headers", st->last_headers);
}
