/* Decoding events and mapping them to rows. */
#include "event.h"

#include "np/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "np/clock.h"
#include "np/wire.h"

const char AUDIT_SQL_INSERT_USAGE[] =
    "INSERT INTO usage_logs (producer_id, seq, time, request_id, user_id, relay_key_id, "
    "upstream_key_id, route, model, width, height, steps, n_samples, cost, status, error, "
    "latency_ms, bytes, node, retries, ip) VALUES ($1, $2, 'epoch'::timestamptz + $3::bigint "
    "* interval '1 microsecond', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
    "$17, $18, $19, $20, $21) ON CONFLICT (producer_id, seq) DO NOTHING";

const char AUDIT_SQL_INSERT_AUDIT[] =
    "INSERT INTO audit_events (producer_id, seq, time, type, actor_user_id, subject, details) "
    "VALUES ($1, $2, 'epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4, $5, "
    "$6, $7::jsonb) ON CONFLICT (producer_id, seq) DO NOTHING";

/* 2000-01-01 and 2200-01-01 in microseconds: a producer clock outside is not believed. */
#define TIME_MIN_US 946684800000000LL
#define TIME_MAX_US 7258118400000000LL

void
audit_event_free(audit_event *e)
{
    if (e != NULL) {
        json_decref(e->fields);
        free(e);
    }
}

void
audit_event_free_list(np_list *l)
{
    audit_event *e;
    while ((e = NP_LIST_ENTRY(np_list_pop_front(l), audit_event, link)) != NULL) {
        audit_event_free(e);
    }
}

static bool
type_ok(const char *s, size_t n)
{
    if (n == 0 || n >= NP_EVENTS_TYPE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

static bool
producer_ok(const char *s)
{
    if (s[0] == '\0') {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            return false;
        }
    }
    return true;
}

/* decode_one reads [seq, time_us, type, fields_json]; NULL when malformed. */
static audit_event *
decode_one(const msgpack_object *o, const char *producer)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4) {
        return NULL;
    }
    const msgpack_object *a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 == 0 ||
        a[0].via.u64 > (uint64_t)INT64_MAX ||
        (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[1].type != MSGPACK_OBJECT_NEGATIVE_INTEGER) ||
        a[2].type != MSGPACK_OBJECT_STR || !type_ok(a[2].via.str.ptr, a[2].via.str.size) ||
        a[3].type != MSGPACK_OBJECT_STR || a[3].via.str.size > NP_EVENTS_FIELDS_MAX) {
        return NULL;
    }
    audit_event *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    snprintf(e->producer, sizeof(e->producer), "%s", producer);
    e->seq = (int64_t)a[0].via.u64;
    e->time_us = a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)a[1].via.u64 : 0;
    if (e->time_us < TIME_MIN_US || e->time_us > TIME_MAX_US) {
        e->time_us = np_wall_us();
    }
    memcpy(e->type, a[2].via.str.ptr, a[2].via.str.size);
    json_error_t jerr;
    json_t *f = json_loadb(a[3].via.str.ptr, a[3].via.str.size, JSON_REJECT_DUPLICATES, &jerr);
    if (f != NULL && !json_is_object(f)) {
        json_t *wrap = json_pack("{s:o}", "value", f);
        f = wrap;
    } else if (f == NULL) {
        /* Kept, not lost: the event happened even if its details are unreadable. */
        f = json_pack("{s:b}", "unparsable", 1);
    }
    if (f == NULL) {
        free(e);
        return NULL;
    }
    audit_fields_redact(f); /* a producer bug must not put a credential in a table */
    e->fields = f;
    return e;
}

np_err
audit_batch_decode(const void *data, size_t len, np_list *out, size_t *count)
{
    *count = 0;
    np_wire_msg m;
    char producer[NP_EVENTS_ID_MAX];
    np_err err = np_wire_parse(&m, data, len);
    const msgpack_object *e = err == NP_ERR_OK ? np_wire_get(m.root, "e") : NULL;
    if (e == NULL || !np_wire_get_cstr(m.root, "p", producer, sizeof(producer)) ||
        !producer_ok(producer) || e->type != MSGPACK_OBJECT_ARRAY ||
        e->via.array.size > AUDIT_BATCH_EVENTS_MAX) {
        np_wire_msg_fini(&m);
        return NP_ERR_WIRE;
    }
    np_list got;
    np_list_init(&got);
    size_t n = 0;
    for (uint32_t i = 0; i < e->via.array.size; i++) {
        audit_event *one = decode_one(&e->via.array.ptr[i], producer);
        if (one == NULL) {
            audit_event_free_list(&got);
            np_wire_msg_fini(&m);
            return NP_ERR_WIRE;
        }
        np_list_push_back(&got, &one->link);
        n++;
    }
    np_wire_msg_fini(&m);
    np_list_take(out, &got);
    *count = n;
    return NP_ERR_OK;
}

bool
audit_event_is_usage(const audit_event *e)
{
    return strcmp(e->type, "relay.finished") == 0;
}

static const char *
put(audit_params *p, const char *s, size_t n)
{
    if (p->used + n + 1 > sizeof(p->buf)) {
        return NULL; /* cannot happen with the column bounds below; NULL is safe anyway */
    }
    char *dst = p->buf + p->used;
    memcpy(dst, s, n);
    dst[n] = '\0';
    p->used += n + 1;
    return dst;
}

static void
add_text(audit_params *p, const char *s)
{
    p->v[p->n++] = s ? put(p, s, strlen(s)) : NULL;
}

static void
add_int64(audit_params *p, int64_t v)
{
    char t[24];
    snprintf(t, sizeof(t), "%lld", (long long)v);
    add_text(p, t);
}

/* utf8_cut returns the longest prefix of s no longer than max bytes that ends on a
 * character boundary. */
static size_t
utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) {
        return n;
    }
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) {
        cut--;
    }
    return cut;
}

/* add_field_int: an integer field within [min, max], else NULL. */
static void
add_field_int(audit_params *p, const json_t *f, const char *key, int64_t min, int64_t max)
{
    const json_t *v = json_object_get(f, key);
    if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max) {
        add_int64(p, json_integer_value(v));
    } else if (json_is_real(v) && json_real_value(v) >= (double)min &&
               json_real_value(v) <= (double)max) {
        add_int64(p, (int64_t)json_real_value(v));
    } else {
        add_text(p, NULL);
    }
}

/* add_field_str: a string field cut to max bytes, else NULL (or def when given); an empty
 * string counts as absent ("error": "" on a success is no error). */
static void
add_field_str(audit_params *p, const json_t *f, const char *key, size_t max, const char *def)
{
    const json_t *v = json_object_get(f, key);
    if (json_is_string(v) && json_string_value(v)[0] != '\0') {
        const char *s = json_string_value(v); /* stops at an embedded NUL: none reaches SQL */
        p->v[p->n++] = put(p, s, utf8_cut(s, strlen(s), max));
    } else {
        add_text(p, def);
    }
}

void
audit_params_usage(audit_params *p, const audit_event *e, bool store_ip)
{
    memset(p, 0, sizeof(*p));
    const json_t *f = e->fields;
    add_text(p, e->producer);
    add_int64(p, e->seq);
    add_int64(p, e->time_us);
    add_field_str(p, f, "request_id", 64, NULL);
    add_field_int(p, f, "user_id", 1, INT64_MAX);
    add_field_int(p, f, "relay_key_id", 1, INT64_MAX);
    add_field_int(p, f, "upstream_key_id", 1, INT64_MAX);
    add_field_str(p, f, "route", 256, "");
    add_field_str(p, f, "model", 128, NULL);
    add_field_int(p, f, "width", 0, INT32_MAX);
    add_field_int(p, f, "height", 0, INT32_MAX);
    add_field_int(p, f, "steps", 0, INT32_MAX);
    add_field_int(p, f, "n_samples", 0, INT32_MAX);
    add_field_int(p, f, "cost", INT64_MIN / 2, INT64_MAX / 2);
    const json_t *st = json_object_get(f, "status");
    add_int64(p, json_is_integer(st) && json_integer_value(st) >= 0 && json_integer_value(st) <= 999
                     ? json_integer_value(st)
                     : 0);
    add_field_str(p, f, "error", 256, NULL);
    add_field_int(p, f, "latency_ms", 0, INT64_MAX / 2);
    add_field_int(p, f, "bytes", 0, INT64_MAX / 2);
    add_field_str(p, f, "node", 64, NULL);
    add_field_int(p, f, "retries", 0, INT32_MAX);
    if (store_ip) {
        add_field_str(p, f, "ip", 64, NULL);
    } else {
        add_text(p, NULL); /* LOG_REQUEST_IP off: no IP is stored at all */
    }
}

int64_t
audit_event_actor(const audit_event *e)
{
    static const char *const keys[] = {"actor_user_id", "admin_id", "user_id", NULL};
    for (int i = 0; keys[i] != NULL; i++) {
        const json_t *v = json_object_get(e->fields, keys[i]);
        if (json_is_integer(v) && json_integer_value(v) > 0) {
            return json_integer_value(v);
        }
    }
    return 0;
}

static bool
starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
audit_event_subject(const audit_event *e, char *out, size_t outlen)
{
    const json_t *f = e->fields;
    const json_t *v = json_object_get(f, "subject");
    if (json_is_string(v) && json_string_length(v) > 0) {
        const char *s = json_string_value(v);
        snprintf(out, outlen, "%.*s", (int)utf8_cut(s, strlen(s), 200), s);
        return true;
    }
    /* The first field that names what the event is about. */
    static const struct {
        const char *type_prefix; /* "" matches every type */
        const char *field;
        const char *label;
    } rules[] = {
        {"", "target_user_id", "user"},
        {"relay_key.", "relay_key_id", "relay_key"},
        {"relay_key.", "key_id", "relay_key"},
        {"", "upstream_key_id", "key"},
        {"", "key_id", "key"},
        {"", "relay_key_id", "relay_key"},
        {"", "proxy_id", "proxy"},
        {"config.", "setting", "config"},
        {"config.", "key", "config"},
        {"admin.", "user_id", "user"},
        {"auth.", "username", "user"},
        {"auth.", "user_id", "user"},
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (!starts(e->type, rules[i].type_prefix)) {
            continue;
        }
        v = json_object_get(f, rules[i].field);
        if (json_is_integer(v)) {
            snprintf(out, outlen, "%s:%lld", rules[i].label, (long long)json_integer_value(v));
            return true;
        }
        if (json_is_string(v) && json_string_length(v) > 0) {
            const char *s = json_string_value(v);
            snprintf(out, outlen, "%s:%.*s", rules[i].label, (int)utf8_cut(s, strlen(s), 180), s);
            return true;
        }
    }
    return false;
}

static bool
credential_name(const char *key)
{
    static const char *const names[] = {
        "token",   "password",       "new_password", "old_password",
        "secret",  "secret_key",     "access_token", "authorization",
        "api_key", "encryption_key", "cookie",       "pst",
        NULL};
    for (int i = 0; names[i] != NULL; i++) {
        if (strcasecmp(key, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* redact_value rewrites token-shaped runs (pst-..., np-...) inside a string value, whatever
 * its field is called. */
static int
redact_value(json_t *str)
{
    size_t len = json_string_length(str);
    char *copy = malloc(len + 1);
    int found = 0;
    if (copy == NULL) {
        json_string_set(str, "[redacted]"); /* fail closed */
        return 1;
    }
    memcpy(copy, json_string_value(str), len + 1);
    size_t n = np_log_redact(copy, len, &found);
    if (found > 0) {
        json_string_setn(str, copy, n);
    }
    free(copy);
    return found;
}

static int
redact(json_t *v, int depth)
{
    int n = 0;
    if (depth > 16) {
        return 0;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
            if (credential_name(key) && !json_is_null(val)) {
                json_object_set_new(v, key, json_string("[redacted]"));
                n++;
            } else if (json_is_string(val)) {
                n += redact_value(val);
            } else {
                n += redact(val, depth + 1);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *val;
        json_array_foreach(v, i, val)
        {
            n += json_is_string(val) ? redact_value(val) : redact(val, depth + 1);
        }
    }
    return n;
}

int
audit_fields_redact(json_t *obj)
{
    return redact(obj, 0);
}

np_err
audit_params_audit(audit_params *p, const audit_event *e, bool minimal)
{
    memset(p, 0, sizeof(*p));
    add_text(p, e->producer);
    add_int64(p, e->seq);
    add_int64(p, e->time_us);
    add_text(p, e->type);
    int64_t actor = audit_event_actor(e);
    if (actor > 0) {
        add_int64(p, actor);
    } else {
        add_text(p, NULL);
    }
    char subject[256];
    add_text(p, audit_event_subject(e, subject, sizeof(subject)) ? subject : NULL);
    if (minimal) {
        p->details = strdup("{\"note\":\"the details of this event could not be stored\"}");
    } else {
        /* JSON_ENSURE_ASCII: jsonb rejects \u0000 but every other escape is fine; an embedded
         * NUL would fail the row, which the caller then stores minimally. */
        p->details = json_dumps(e->fields, JSON_COMPACT | JSON_ENSURE_ASCII);
    }
    if (p->details == NULL) {
        return NP_ERR_NOMEM;
    }
    p->v[p->n++] = p->details;
    return NP_ERR_OK;
}

void
audit_params_fini(audit_params *p)
{
    free(p->details);
    p->details = NULL;
}
