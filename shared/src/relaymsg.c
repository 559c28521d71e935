/* The relay operations between the gateway and the pool (np/relaymsg.h). */
#include "np/relaymsg.h"

#include <assert.h>
#include <string.h>

const char *const np_relay_req_headers[NP_RELAY_REQH_COUNT] = {
    [NP_RELAY_REQH_CONTENT_TYPE] = "content-type",
    [NP_RELAY_REQH_ACCEPT] = "accept",
    [NP_RELAY_REQH_CORRELATION_ID] = "x-correlation-id",
    [NP_RELAY_REQH_INITIATED_AT] = "x-initiated-at",
};

const char *const np_relay_res_headers[NP_RELAY_RESH_COUNT] = {
    [NP_RELAY_RESH_CONTENT_TYPE] = "content-type",
    [NP_RELAY_RESH_CONTENT_ENCODING] = "content-encoding",
    [NP_RELAY_RESH_CONTENT_DISPOSITION] = "content-disposition",
    [NP_RELAY_RESH_RETRY_AFTER] = "retry-after",
    [NP_RELAY_RESH_RATELIMIT_LIMIT] = "x-ratelimit-limit",
    [NP_RELAY_RESH_RATELIMIT_REMAINING] = "x-ratelimit-remaining",
    [NP_RELAY_RESH_RATELIMIT_RESET] = "x-ratelimit-reset",
};

/* A response header map may name headers this side does not know (dropped), up to this many
 * entries in all. */
#define RES_HDR_ENTRIES_MAX 32

static int
list_find(const char *const *list, int count, const char *name, size_t n)
{
    for (int i = 0; i < count; i++) {
        if (strlen(list[i]) == n && memcmp(list[i], name, n) == 0) {
            return i;
        }
    }
    return -1;
}

int
np_relay_req_header_id(const char *name, size_t n)
{
    return list_find(np_relay_req_headers, NP_RELAY_REQH_COUNT, name, n);
}

static bool
value_ok(const char *value, size_t n, size_t max)
{
    return n < max && memchr(value, '\r', n) == NULL && memchr(value, '\n', n) == NULL &&
           memchr(value, '\0', n) == NULL;
}

bool
np_relay_req_value_ok(const char *value, size_t n)
{
    return value_ok(value, n, NP_RELAY_REQ_VALUE_MAX);
}

/* ---- writing: every map counts its entries as they are written ----
 *
 * A map starts as a map 16 header with a count of 0 (msgpack allows the wider form for any
 * count), and map_end patches in the entries written. */

typedef struct {
    np_wire_writer *w;
    size_t at; /* where the header lies in w's buffer */
    uint32_t n;
} map_out;

static void
map_begin(map_out *m, np_wire_writer *w)
{
    static const char header[3] = {(char)0xde, 0, 0};
    m->w = w;
    m->at = w->sbuf.size;
    m->n = 0;
    msgpack_sbuffer_write(&w->sbuf, header, sizeof(header));
}

static void
map_end(map_out *m)
{
    assert(m->n <= 0xffff);
    m->w->sbuf.data[m->at + 1] = (char)(m->n >> 8);
    m->w->sbuf.data[m->at + 2] = (char)(m->n & 0xff);
}

/* msg_begin starts a message: its map and the version entry. */
static void
msg_begin(map_out *m, np_wire_writer *w)
{
    map_begin(m, w);
    np_wire_int(w, "v", NP_WIRE_VERSION);
    m->n++;
}

static void
put_str(map_out *m, const char *key, const char *s, size_t n)
{
    np_wire_strn(m->w, key, s != NULL ? s : "", s != NULL ? n : 0);
    m->n++;
}

static void
put_cstr(map_out *m, const char *key, const char *s)
{
    put_str(m, key, s, s != NULL ? strlen(s) : 0);
}

static void
put_int(map_out *m, const char *key, int64_t v)
{
    np_wire_int(m->w, key, v);
    m->n++;
}

static void
put_bool(map_out *m, const char *key, bool v)
{
    np_wire_bool(m->w, key, v);
    m->n++;
}

static void
put_bin(map_out *m, const char *key, const void *p, size_t n)
{
    np_wire_bin(m->w, key, p != NULL ? p : "", p != NULL ? n : 0);
    m->n++;
}

/* put_map writes key and starts its map in inner (end it with map_end). */
static void
put_map(map_out *m, const char *key, map_out *inner)
{
    np_wire_key(m->w, key);
    m->n++;
    map_begin(inner, m->w);
}

static void
put_headers(map_out *m, const char *const *names, const np_relay_hdr *h, int nh)
{
    map_out hm;
    put_map(m, "h", &hm);
    for (int i = 0; i < nh; i++) {
        put_str(&hm, names[h[i].name], h[i].value, h[i].len);
    }
    map_end(&hm);
}

/* ---- reading ---- */

/* keys_ok: every key of map is a string and none of known appears twice (a reader takes the
 * first of two, another program might take the second). */
static bool
keys_ok(const msgpack_object *map, const char *const *known)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return false;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (map->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR) {
            return false;
        }
    }
    for (int j = 0; known[j] != NULL; j++) {
        size_t klen = strlen(known[j]);
        int seen = 0;
        for (uint32_t i = 0; i < map->via.map.size; i++) {
            const msgpack_object *k = &map->via.map.ptr[i].key;
            seen += k->via.str.size == klen && memcmp(k->via.str.ptr, known[j], klen) == 0;
        }
        if (seen > 1) {
            return false;
        }
    }
    return true;
}

/* get_slice: a str field of at most max bytes (without NUL when nul is false). */
static bool
get_slice(const msgpack_object *map, const char *key, size_t max, bool nul, const char **p,
          size_t *n)
{
    if (!np_wire_get_str(map, key, p, n) || *n > max || (!nul && memchr(*p, '\0', *n) != NULL)) {
        return false;
    }
    return true;
}

/* ---- relay.open ---- */

bool
np_relay_open_add_header(np_relay_open *o, int name, const char *value, size_t len)
{
    if (name < 0 || name >= NP_RELAY_REQH_COUNT || o->nh >= NP_RELAY_REQ_HDR_MAX ||
        !np_relay_req_value_ok(value, len)) {
        return false;
    }
    o->h[o->nh++] = (np_relay_hdr){name, value, len};
    return true;
}

void
np_relay_open_write(np_wire_writer *w, const np_relay_open *o)
{
    map_out m, u;
    msg_begin(&m, w);
    put_cstr(&m, "op", NP_RELAY_OP_OPEN);
    put_str(&m, "m", o->method, o->method_len);
    put_str(&m, "p", o->path, o->path_len);
    put_str(&m, "q", o->query, o->query_len);
    put_bin(&m, "b", o->body, o->body_len);
    put_headers(&m, np_relay_req_headers, o->h, o->nh);
    put_cstr(&m, "ip", o->ip);
    put_cstr(&m, "rid", o->rid);
    put_map(&m, "u", &u);
    put_int(&u, "id", o->user_id);
    put_cstr(&u, "role", o->role);
    put_int(&u, "kid", o->relay_key_id);
    map_end(&u);
    map_end(&m);
}

/* read_req_headers keeps the headers of map h that are on the list and fit to send, in order;
 * false when h is not a map of strings or has more than NP_RELAY_REQ_HDR_MAX entries. */
static bool
read_req_headers(const msgpack_object *h, np_relay_open *o)
{
    if (h == NULL || h->type != MSGPACK_OBJECT_MAP || h->via.map.size > NP_RELAY_REQ_HDR_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        const msgpack_object *k = &h->via.map.ptr[i].key;
        const msgpack_object *v = &h->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR) {
            return false;
        }
        int id = np_relay_req_header_id(k->via.str.ptr, k->via.str.size);
        if (id >= 0) {
            (void)np_relay_open_add_header(o, id, v->via.str.ptr, v->via.str.size);
        }
    }
    return true;
}

np_err
np_relay_open_read(const msgpack_object *root, np_relay_open *o)
{
    static const char *const keys[] = {"v", "op", "m", "p", "q", "b", "h", "ip", "rid", "u", NULL};
    static const char *const ukeys[] = {"id", "role", "kid", NULL};
    memset(o, 0, sizeof(*o));
    const msgpack_object *u = np_wire_get(root, "u");
    if (!keys_ok(root, keys) || !keys_ok(u, ukeys) ||
        !get_slice(root, "m", NP_RELAY_METHOD_MAX, false, &o->method, &o->method_len) ||
        o->method_len == 0 ||
        !get_slice(root, "p", NP_RELAY_PATH_MAX, false, &o->path, &o->path_len) ||
        !get_slice(root, "q", NP_RELAY_QUERY_MAX, true, &o->query, &o->query_len) ||
        !np_wire_get_bin(root, "b", &o->body, &o->body_len) ||
        !read_req_headers(np_wire_get(root, "h"), o) ||
        !np_wire_get_cstr(root, "ip", o->ip, sizeof(o->ip)) ||
        !np_wire_get_cstr(root, "rid", o->rid, sizeof(o->rid)) ||
        !np_wire_get_int(u, "id", &o->user_id) || o->user_id <= 0 ||
        !np_wire_get_cstr(u, "role", o->role, sizeof(o->role)) ||
        !np_wire_get_int(u, "kid", &o->relay_key_id) || o->relay_key_id < 0) {
        return NP_ERR_WIRE;
    }
    return NP_ERR_OK;
}

/* ---- the answer of relay.open and relay.next ---- */

bool
np_relay_chunk_add_header(np_relay_chunk *c, int name, const char *value)
{
    if (value == NULL || value[0] == '\0' || name < 0 || name >= NP_RELAY_RESH_COUNT ||
        !value_ok(value, strlen(value), NP_RELAY_RES_VALUE_MAX)) {
        return false;
    }
    for (int i = 0; i < c->nh; i++) {
        if (c->h[i].name == name) {
            return false;
        }
    }
    c->h[c->nh++] = (np_relay_hdr){name, value, strlen(value)};
    return true;
}

void
np_relay_chunk_write(np_wire_writer *w, const np_relay_chunk *c, bool first)
{
    map_out m;
    msg_begin(&m, w);
    if (c->err != NP_ERR_OK) {
        put_cstr(&m, "e", np_err_code(c->err));
        if (c->message != NULL && c->message_len > 0) {
            put_str(&m, "m", c->message, c->message_len);
        } else {
            put_cstr(&m, "m", np_err_message(c->err));
        }
        if (first) {
            put_headers(&m, np_relay_res_headers, c->h, c->nh);
        }
        map_end(&m);
        return;
    }
    if (first) {
        put_int(&m, "s", c->status);
        put_headers(&m, np_relay_res_headers, c->h, c->nh);
    }
    put_bin(&m, "b", c->data, c->len);
    put_bool(&m, "more", c->more);
    if (first && c->more) {
        put_int(&m, "sid", c->sid);
    }
    map_end(&m);
}

/* read_res_headers reads the response headers of map h: the names on the list, each once
 * with a fit value; other names are dropped. */
static bool
read_res_headers(const msgpack_object *h, np_relay_chunk *c)
{
    if (h == NULL || h->type != MSGPACK_OBJECT_MAP || h->via.map.size > RES_HDR_ENTRIES_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        const msgpack_object *k = &h->via.map.ptr[i].key;
        const msgpack_object *v = &h->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR ||
            !value_ok(v->via.str.ptr, v->via.str.size, NP_RELAY_RES_VALUE_MAX)) {
            return false;
        }
        int id =
            list_find(np_relay_res_headers, NP_RELAY_RESH_COUNT, k->via.str.ptr, k->via.str.size);
        if (id < 0) {
            continue;
        }
        for (int j = 0; j < c->nh; j++) {
            if (c->h[j].name == id) {
                return false; /* twice */
            }
        }
        if (v->via.str.size > 0) {
            c->h[c->nh++] = (np_relay_hdr){id, v->via.str.ptr, v->via.str.size};
        }
    }
    return true;
}

np_err
np_relay_chunk_read(const msgpack_object *root, bool first, np_relay_chunk *c)
{
    static const char *const keys[] = {"v", "e", "m", "s", "h", "b", "more", "sid", NULL};
    memset(c, 0, sizeof(*c));
    if (!keys_ok(root, keys)) {
        return NP_ERR_WIRE;
    }
    const msgpack_object *e = np_wire_get(root, "e");
    if (e != NULL) {
        char code[64];
        if (!np_wire_get_cstr(root, "e", code, sizeof(code)) ||
            !get_slice(root, "m", SIZE_MAX, false, &c->message, &c->message_len)) {
            return NP_ERR_WIRE;
        }
        c->err = np_err_from_code(code);
        const msgpack_object *h = np_wire_get(root, "h");
        if (c->err == NP_ERR_OK || (first && h != NULL && !read_res_headers(h, c))) {
            return NP_ERR_WIRE;
        }
        return NP_ERR_OK;
    }
    int64_t status = 0;
    if (first && (!np_wire_get_int(root, "s", &status) || status < 100 || status > 599 ||
                  !read_res_headers(np_wire_get(root, "h"), c))) {
        return NP_ERR_WIRE;
    }
    c->status = (int)status;
    if (!np_wire_get_bin(root, "b", &c->data, &c->len) ||
        !np_wire_get_bool(root, "more", &c->more) ||
        (first && c->more && (!np_wire_get_int(root, "sid", &c->sid) || c->sid <= 0))) {
        return NP_ERR_WIRE;
    }
    return NP_ERR_OK;
}

/* ---- relay.next, relay.cancel, relay.abort ---- */

static void
sid_write(np_wire_writer *w, const char *op, const np_relay_sid *s)
{
    map_out m;
    msg_begin(&m, w);
    put_cstr(&m, "op", op);
    put_int(&m, "sid", s->sid);
    map_end(&m);
}

void
np_relay_next_write(np_wire_writer *w, const np_relay_sid *s)
{
    sid_write(w, NP_RELAY_OP_NEXT, s);
}

void
np_relay_cancel_write(np_wire_writer *w, const np_relay_sid *s)
{
    sid_write(w, NP_RELAY_OP_CANCEL, s);
}

np_err
np_relay_sid_read(const msgpack_object *root, np_relay_sid *s)
{
    static const char *const keys[] = {"v", "op", "sid", NULL};
    memset(s, 0, sizeof(*s));
    if (!keys_ok(root, keys) || !np_wire_get_int(root, "sid", &s->sid) || s->sid <= 0) {
        return NP_ERR_WIRE;
    }
    return NP_ERR_OK;
}

void
np_relay_abort_write(np_wire_writer *w, const np_relay_abort *a)
{
    map_out m;
    msg_begin(&m, w);
    put_cstr(&m, "op", NP_RELAY_OP_ABORT);
    put_cstr(&m, "rid", a->rid);
    put_int(&m, "uid", a->user_id);
    map_end(&m);
}

np_err
np_relay_abort_read(const msgpack_object *root, np_relay_abort *a)
{
    static const char *const keys[] = {"v", "op", "rid", "uid", NULL};
    memset(a, 0, sizeof(*a));
    if (!keys_ok(root, keys) || !np_wire_get_cstr(root, "rid", a->rid, sizeof(a->rid)) ||
        a->rid[0] == '\0' || !np_wire_get_int(root, "uid", &a->user_id) || a->user_id <= 0) {
        return NP_ERR_WIRE;
    }
    return NP_ERR_OK;
}

void
np_relay_done_write(np_wire_writer *w)
{
    map_out m;
    msg_begin(&m, w);
    map_end(&m);
}
