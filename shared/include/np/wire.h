/* The wire format between services: msgpack maps with short keys and a version field "v".
 * Requests carry "op"; error replies carry "e" (an error code of errors.def) and "m" (a
 * sentence). Every decoder checks every field's type before use. */
#ifndef NP_WIRE_H
#define NP_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"

#define NP_WIRE_VERSION 1

/* A writer over a growing buffer. */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} np_wire_writer;

void np_wire_writer_init(np_wire_writer *w);
void np_wire_writer_fini(np_wire_writer *w);
/* np_wire_begin starts a map of n entries plus the version entry (so pass the count of
 * entries you will add, not counting "v"). */
void np_wire_begin(np_wire_writer *w, uint32_t n);
void np_wire_key(np_wire_writer *w, const char *key);
void np_wire_str(np_wire_writer *w, const char *key, const char *s);
void np_wire_strn(np_wire_writer *w, const char *key, const char *s, size_t n);
void np_wire_int(np_wire_writer *w, const char *key, int64_t v);
void np_wire_bool(np_wire_writer *w, const char *key, bool v);
void np_wire_bin(np_wire_writer *w, const char *key, const void *p, size_t n);
void np_wire_nil(np_wire_writer *w, const char *key);
/* np_wire_error writes a complete error reply {v, e, m}. */
void np_wire_error(np_wire_writer *w, np_err err, const char *message);

/* A parsed message; root is a map. */
typedef struct {
    msgpack_unpacked up;
    const msgpack_object *root;
} np_wire_msg;

/* np_wire_parse parses exactly one msgpack map with v == NP_WIRE_VERSION filling len bytes.
 * NP_ERR_WIRE on anything else, NP_ERR_NOMEM. The objects live in a zone sized to the message
 * (strings point into data, which must outlive m). Call np_wire_msg_fini in every case. */
np_err np_wire_parse(np_wire_msg *m, const void *data, size_t len);
void np_wire_msg_fini(np_wire_msg *m);

/* Getters on a map object: false when the key is absent or has another type. */
const msgpack_object *np_wire_get(const msgpack_object *map, const char *key);
bool np_wire_get_str(const msgpack_object *map, const char *key, const char **s, size_t *n);
bool np_wire_get_int(const msgpack_object *map, const char *key, int64_t *v);
bool np_wire_get_bool(const msgpack_object *map, const char *key, bool *v);
/* np_wire_get_bin accepts bin or str. */
bool np_wire_get_bin(const msgpack_object *map, const char *key, const void **p, size_t *n);
const msgpack_object *np_wire_get_map(const msgpack_object *map, const char *key);
/* np_wire_get_cstr copies a str field into out (NUL-terminated); false if missing, wrong
 * type, too long, or holding a NUL. */
bool np_wire_get_cstr(const msgpack_object *map, const char *key, char *out, size_t outlen);
/* np_wire_reply_error reads an error reply; returns NP_ERR_OK when the map is no error. */
np_err np_wire_reply_error(const msgpack_object *map, char *message, size_t mlen);

#endif
