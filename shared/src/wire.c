/* msgpack envelopes between services. */
#include "np/wire.h"

#include <string.h>

void
np_wire_writer_init(np_wire_writer *w)
{
    msgpack_sbuffer_init(&w->sbuf);
    msgpack_packer_init(&w->pk, &w->sbuf, msgpack_sbuffer_write);
}

void
np_wire_writer_fini(np_wire_writer *w)
{
    msgpack_sbuffer_destroy(&w->sbuf);
}

void
np_wire_key(np_wire_writer *w, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(&w->pk, n);
    msgpack_pack_str_body(&w->pk, key, n);
}

void
np_wire_begin(np_wire_writer *w, uint32_t n)
{
    msgpack_pack_map(&w->pk, n + 1);
    np_wire_int(w, "v", NP_WIRE_VERSION);
}

void
np_wire_strn(np_wire_writer *w, const char *key, const char *s, size_t n)
{
    if (key != NULL) {
        np_wire_key(w, key);
    }
    msgpack_pack_str(&w->pk, n);
    msgpack_pack_str_body(&w->pk, s, n);
}

void
np_wire_str(np_wire_writer *w, const char *key, const char *s)
{
    np_wire_strn(w, key, s ? s : "", s ? strlen(s) : 0);
}

void
np_wire_int(np_wire_writer *w, const char *key, int64_t v)
{
    if (key != NULL) {
        np_wire_key(w, key);
    }
    msgpack_pack_int64(&w->pk, v);
}

void
np_wire_bool(np_wire_writer *w, const char *key, bool v)
{
    if (key != NULL) {
        np_wire_key(w, key);
    }
    if (v) {
        msgpack_pack_true(&w->pk);
    } else {
        msgpack_pack_false(&w->pk);
    }
}

void
np_wire_bin(np_wire_writer *w, const char *key, const void *p, size_t n)
{
    if (key != NULL) {
        np_wire_key(w, key);
    }
    msgpack_pack_bin(&w->pk, n);
    msgpack_pack_bin_body(&w->pk, p, n);
}

void
np_wire_nil(np_wire_writer *w, const char *key)
{
    if (key != NULL) {
        np_wire_key(w, key);
    }
    msgpack_pack_nil(&w->pk);
}

void
np_wire_error(np_wire_writer *w, np_err err, const char *message)
{
    np_wire_begin(w, 2);
    np_wire_str(w, "e", np_err_code(err));
    np_wire_str(w, "m", message ? message : np_err_message(err));
}

static uint64_t
be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* sizes_plausible walks the msgpack bytes without allocating and checks that every declared
 * length fits in what is left, and every container count could be met (each element takes
 * at least one byte). msgpack-c allocates a container's whole element array from its
 * declared count before reading it, so without this a 9-byte message could ask for
 * gigabytes. *elems: the elements of all containers (a map's pairs count two), which is what
 * msgpack-c allocates (one msgpack_object each; strings and bins point into the message). */
static bool
sizes_plausible(const uint8_t *p, size_t len, uint64_t *elems)
{
    size_t pos = 0;
    uint64_t pending = 1;
    *elems = 0;
    while (pending > 0) {
        if (pos >= len) {
            return false;
        }
        uint8_t t = p[pos++];
        pending--;
        uint64_t skip = 0, items = 0;
        int lenbytes = 0;
        if (t <= 0x7f || t >= 0xe0 || (t >= 0xc0 && t <= 0xc3 && t != 0xc1)) {
            continue;
        } else if (t >= 0x80 && t <= 0x8f) {
            items = 2u * (t & 0x0f);
        } else if (t >= 0x90 && t <= 0x9f) {
            items = t & 0x0f;
        } else if (t >= 0xa0 && t <= 0xbf) {
            skip = t & 0x1f;
        } else {
            switch (t) {
            case 0xc4:
            case 0xd9: lenbytes = 1; break;
            case 0xc5:
            case 0xda: lenbytes = 2; break;
            case 0xc6:
            case 0xdb: lenbytes = 4; break;
            case 0xc7:
                lenbytes = 1;
                skip = 1;
                break; /* ext: length, then a type byte */
            case 0xc8:
                lenbytes = 2;
                skip = 1;
                break;
            case 0xc9:
                lenbytes = 4;
                skip = 1;
                break;
            case 0xca:
            case 0xce:
            case 0xd2: skip = 4; break;
            case 0xcb:
            case 0xcf:
            case 0xd3: skip = 8; break;
            case 0xcc:
            case 0xd0: skip = 1; break;
            case 0xcd:
            case 0xd1: skip = 2; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc:
            case 0xde:
                if (len - pos < 2) {
                    return false;
                }
                items = be(p + pos, 2) * (t == 0xde ? 2u : 1u);
                pos += 2;
                break;
            case 0xdd:
            case 0xdf:
                if (len - pos < 4) {
                    return false;
                }
                items = be(p + pos, 4) * (t == 0xdf ? 2u : 1u);
                pos += 4;
                break;
            default: return false; /* 0xc1 is never used */
            }
        }
        if (lenbytes > 0) {
            if (len - pos < (size_t)lenbytes) {
                return false;
            }
            skip += be(p + pos, lenbytes);
            pos += (size_t)lenbytes;
        }
        if (skip > len - pos || items > len - pos) {
            return false;
        }
        pos += (size_t)skip;
        pending += items;
        *elems += items;
    }
    return true;
}

/* The parsed objects' zone is sized to the message (its elements, ZONE_MIN at least), not
 * msgpack-c's 8 KiB default chunk: an rpc call held until answered (relay.open waiting for a
 * key) keeps its zone, and 10,000 of them held 80 MB of mostly empty chunks. */
#define ZONE_MIN 64

np_err
np_wire_parse(np_wire_msg *m, const void *data, size_t len)
{
    msgpack_unpacked_init(&m->up);
    m->root = NULL;
    size_t off = 0;
    uint64_t elems = 0;
    if (data == NULL || len == 0 || !sizes_plausible(data, len, &elems)) {
        return NP_ERR_WIRE;
    }
    /* elems <= len (sizes_plausible), so this cannot overflow */
    size_t need = (size_t)elems * sizeof(msgpack_object);
    m->up.zone = msgpack_zone_new(need > ZONE_MIN ? need : ZONE_MIN);
    if (m->up.zone == NULL) {
        return NP_ERR_NOMEM;
    }
    if (msgpack_unpack(data, len, &off, m->up.zone, &m->up.data) != MSGPACK_UNPACK_SUCCESS) {
        return NP_ERR_WIRE;
    }
    if (off != len || m->up.data.type != MSGPACK_OBJECT_MAP) {
        return NP_ERR_WIRE;
    }
    int64_t v;
    if (!np_wire_get_int(&m->up.data, "v", &v) || v != NP_WIRE_VERSION) {
        return NP_ERR_WIRE;
    }
    m->root = &m->up.data;
    return NP_ERR_OK;
}

void
np_wire_msg_fini(np_wire_msg *m)
{
    msgpack_unpacked_destroy(&m->up);
    m->root = NULL;
}

const msgpack_object *
np_wire_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

bool
np_wire_get_str(const msgpack_object *map, const char *key, const char **s, size_t *n)
{
    const msgpack_object *o = np_wire_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) {
        return false;
    }
    *s = o->via.str.ptr;
    *n = o->via.str.size;
    return true;
}

bool
np_wire_get_cstr(const msgpack_object *map, const char *key, char *out, size_t outlen)
{
    const char *s;
    size_t n;
    if (!np_wire_get_str(map, key, &s, &n) || n >= outlen || memchr(s, '\0', n) != NULL) {
        return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool
np_wire_get_int(const msgpack_object *map, const char *key, int64_t *v)
{
    const msgpack_object *o = np_wire_get(map, key);
    if (o == NULL) {
        return false;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX) {
            return false;
        }
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

bool
np_wire_get_bool(const msgpack_object *map, const char *key, bool *v)
{
    const msgpack_object *o = np_wire_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN) {
        return false;
    }
    *v = o->via.boolean;
    return true;
}

bool
np_wire_get_bin(const msgpack_object *map, const char *key, const void **p, size_t *n)
{
    const msgpack_object *o = np_wire_get(map, key);
    if (o != NULL && o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
        return true;
    }
    if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
        return true;
    }
    return false;
}

const msgpack_object *
np_wire_get_map(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = np_wire_get(map, key);
    return o != NULL && o->type == MSGPACK_OBJECT_MAP ? o : NULL;
}

np_err
np_wire_reply_error(const msgpack_object *map, char *message, size_t mlen)
{
    char code[64];
    if (!np_wire_get_cstr(map, "e", code, sizeof(code))) {
        if (np_wire_get(map, "e") != NULL) {
            return NP_ERR_WIRE;
        }
        return NP_ERR_OK;
    }
    if (message != NULL && !np_wire_get_cstr(map, "m", message, mlen)) {
        snprintf(message, mlen, "%s", "");
    }
    np_err err = np_err_from_code(code);
    return err == NP_ERR_OK ? NP_ERR_WIRE : err;
}
