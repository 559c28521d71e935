/* The relay operations between the gateway and the pool, one struct each with a writer and a
 * reader, and the header lists they carry (defined here only).
 *
 *   relay.open   {v, op, m, p, q, b:bin, h:{name: value}, ip, rid, u:{id, role, kid}}
 *   its answer   {v, s, h, b:bin, more, sid (when more)}, or an error {v, e, m, h}
 *   relay.next   {v, op, sid}  ->  {v, b:bin, more}, or an error {v, e, m}
 *   relay.cancel {v, op, sid}  ->  {v}
 *   relay.abort  {v, op, rid, uid}  ->  {v}   (rid: the gateway's own id of the request)
 *
 * Writers count the entries of every map as they write them (never by hand). Readers check
 * every field's type and size and return NP_ERR_WIRE for a missing or malformed one, a key
 * that is no string, or a known key given twice; keys they do not know are ignored, so one
 * side may add a field before the other reads it (a mixed-version deployment keeps working:
 * the keys and shapes are those of the hand-written maps before this contract). What a reader
 * returns borrows from the message: it lives as long as the parsed message does. A header whose
 * name is not on its list is dropped by the reader, as is a request header whose value is unfit to
 * send upstream (np_relay_req_value_ok): it is the client's, not a malformed message. */
#ifndef NP_RELAYMSG_H
#define NP_RELAYMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"
#include "np/wire.h"

#define NP_RELAY_OP_OPEN "relay.open"
#define NP_RELAY_OP_NEXT "relay.next"
#define NP_RELAY_OP_CANCEL "relay.cancel"
#define NP_RELAY_OP_ABORT "relay.abort"

/* The longest method, path (after /v1/novelai) and query a relay.open carries. TTS sends its
 * text in the query, and 1,000 CJK characters are 9,000 bytes once URL-encoded. */
#define NP_RELAY_METHOD_MAX 7
#define NP_RELAY_PATH_MAX 1024
#define NP_RELAY_QUERY_MAX 16384

/* The request headers a NovelAI client may send upstream (NOVELAI.md); nothing else goes.
 * Lowercase; np_relay_req_headers[id] is the name of id. */
typedef enum {
    NP_RELAY_REQH_CONTENT_TYPE,
    NP_RELAY_REQH_ACCEPT,
    NP_RELAY_REQH_CORRELATION_ID,
    NP_RELAY_REQH_INITIATED_AT,
    NP_RELAY_REQH_COUNT
} np_relay_reqh;
extern const char *const np_relay_req_headers[NP_RELAY_REQH_COUNT];
/* At most this many request headers travel (duplicates included: the pool refuses two
 * Content-Types); a request header value is shorter than NP_RELAY_REQ_VALUE_MAX. */
#define NP_RELAY_REQ_HDR_MAX 16
#define NP_RELAY_REQ_VALUE_MAX 400

/* The response headers the pool passes back to the client, lowercase. */
typedef enum {
    NP_RELAY_RESH_CONTENT_TYPE,
    NP_RELAY_RESH_CONTENT_ENCODING,
    NP_RELAY_RESH_CONTENT_DISPOSITION,
    NP_RELAY_RESH_RETRY_AFTER,
    NP_RELAY_RESH_RATELIMIT_LIMIT,
    NP_RELAY_RESH_RATELIMIT_REMAINING,
    NP_RELAY_RESH_RATELIMIT_RESET,
    NP_RELAY_RESH_COUNT
} np_relay_resh;
extern const char *const np_relay_res_headers[NP_RELAY_RESH_COUNT];
/* A response header value is shorter than this, and holds no CR, LF or NUL. */
#define NP_RELAY_RES_VALUE_MAX 1024

/* One header: name is an id of its list, value is borrowed. */
typedef struct {
    int name;
    const char *value;
    size_t len;
} np_relay_hdr;

/* np_relay_req_header_id finds a request header name of n bytes (lowercase, as H2O keeps
 * them) on its list; -1 when it is not there. */
int np_relay_req_header_id(const char *name, size_t n);
/* np_relay_req_value_ok: value may go upstream (shorter than NP_RELAY_REQ_VALUE_MAX, no CR,
 * LF or NUL). */
bool np_relay_req_value_ok(const char *value, size_t n);

/* relay.open. Every pointer is borrowed (the writer's caller's, or the read message's). */
typedef struct {
    const char *method;
    size_t method_len;
    const char *path; /* what follows /v1/novelai, at most NP_RELAY_PATH_MAX bytes */
    size_t path_len;
    const char *query; /* without the '?', at most NP_RELAY_QUERY_MAX bytes */
    size_t query_len;
    const void *body;
    size_t body_len;
    np_relay_hdr h[NP_RELAY_REQ_HDR_MAX]; /* in the client's order */
    int nh;
    char ip[64];     /* the client's address */
    char rid[64];    /* the gateway's id of the request */
    int64_t user_id; /* > 0 */
    char role[16];
    int64_t relay_key_id; /* 0: signed in with a session token */
} np_relay_open;

/* np_relay_open_add_header appends a request header to o when its name is on the list, its
 * value is fit (np_relay_req_value_ok) and there is room; false when it was left out. */
bool np_relay_open_add_header(np_relay_open *o, int name, const char *value, size_t len);
void np_relay_open_write(np_wire_writer *w, const np_relay_open *o);
np_err np_relay_open_read(const msgpack_object *root, np_relay_open *o);

/* The answer to relay.open or relay.next. An error answer has err set (then message and,
 * for relay.open, h); otherwise it is a chunk: the first one (relay.open's, with status and
 * h, and sid when more follows) or a later one (relay.next's: data and more only). */
typedef struct {
    np_err err;
    const char *message; /* of an error answer, message_len bytes; NULL or empty: err's own */
    size_t message_len;
    int status; /* relay.open's: the upstream status, 100..599 */
    np_relay_hdr h[NP_RELAY_RESH_COUNT];
    int nh;
    const void *data;
    size_t len;
    bool more;
    int64_t sid; /* relay.open's with more: the stream to ask relay.next of (> 0) */
} np_relay_chunk;

/* np_relay_chunk_add_header appends a response header to c unless value is NULL or empty (no
 * header then), unfit (too long, CR, LF) or a header of that name is there already; false
 * when it was left out. value is borrowed until the chunk is written. */
bool np_relay_chunk_add_header(np_relay_chunk *c, int name, const char *value);
/* np_relay_chunk_write writes c as the answer to relay.open (first true) or relay.next. */
void np_relay_chunk_write(np_wire_writer *w, const np_relay_chunk *c, bool first);
/* np_relay_chunk_read reads an answer to relay.open (first true) or relay.next; an error
 * answer is read into c->err (with NP_ERR_OK returned; a code this side does not know reads
 * as NP_ERR_INTERNAL). */
np_err np_relay_chunk_read(const msgpack_object *root, bool first, np_relay_chunk *c);

/* relay.next and relay.cancel name a stream (sid > 0). */
typedef struct {
    int64_t sid;
} np_relay_sid;

void np_relay_next_write(np_wire_writer *w, const np_relay_sid *s);
void np_relay_cancel_write(np_wire_writer *w, const np_relay_sid *s);
/* np_relay_sid_read reads relay.next or relay.cancel. */
np_err np_relay_sid_read(const msgpack_object *root, np_relay_sid *s);

/* relay.abort: the client left before relay.open was answered. */
typedef struct {
    char rid[64];    /* not empty */
    int64_t user_id; /* > 0 */
} np_relay_abort;

void np_relay_abort_write(np_wire_writer *w, const np_relay_abort *a);
np_err np_relay_abort_read(const msgpack_object *root, np_relay_abort *a);

/* np_relay_done_write writes the empty answer of relay.cancel and relay.abort. */
void np_relay_done_write(np_wire_writer *w);

#endif
