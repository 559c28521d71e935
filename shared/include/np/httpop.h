/* The "http" operation: how the gateway hands a REST request to the service that owns its
 * route, and how the service answers. The gateway has already authenticated the caller;
 * services trust the principal fields because only the gateway reaches them.
 *
 * Request  {v, op:"http", o, m, p, q, b:bin, ip, rid, u?:{id, role, kid}}
 *          o: the REST operation's number (np/httpops.def), from the gateway's route table
 * Answer   {v, s:status, b:bin body, ct?:content type, h?:{header: value}} */
#ifndef NP_HTTPOP_H
#define NP_HTTPOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/errors.h"
#include "np/rpc.h"
#include "np/wire.h"

/* The body limit of every REST route (everything but the relay under /v1/novelai, which takes
 * MAX_BODY_BYTES): the gateway answers 413 beyond it. NP_HTTP_RECV_MAX is the NNG receive
 * limit of the services that only answer REST and small operations (auth, audit, health):
 * the body plus the envelope (path, query, principal). */
#define NP_HTTP_BODY_MAX (64u * 1024u)
#define NP_HTTP_RECV_MAX (NP_HTTP_BODY_MAX + 16u * 1024u)

/* The REST operations (np/httpops.def). NP_OP_NONE is no operation: never valid on the wire. */
typedef enum {
    NP_OP_NONE = 0,
#define OP(name, num, method, pattern) NP_OP_##name = num,
#include "np/httpops.def"
#undef OP
} np_http_op;
/* Every op number is below NP_OP__COUNT (checked at build time): tables indexed by op. */
#define NP_OP__COUNT 64

/* np_http_op_method / np_http_op_pattern: the op's method and path pattern, NULL when op is
 * not one. */
const char *np_http_op_method(np_http_op op);
const char *np_http_op_pattern(np_http_op op);
/* np_http_op_find returns the op of method and path (for callers without a route table, such
 * as tests), NP_OP_NONE when there is none. */
np_http_op np_http_op_find(const char *method, const char *path);

typedef struct {
    np_http_op op; /* what the gateway routed this to: services dispatch on it */
    int64_t id;    /* the {id} of the op's pattern, 0 when it has none */
    char method[8];
    char path[512];
    char query[2048];
    const void *body; /* borrowed from the request message */
    size_t body_len;
    char ip[64];
    char rid[64];
    int64_t user_id;      /* 0: anonymous */
    char role[16];        /* "user", "admin" or "" */
    int64_t relay_key_id; /* 0: signed in with a session token */
} np_http_req;

/* np_http_req_write writes the whole "http" request envelope. */
void np_http_req_write(np_wire_writer *w, const np_http_req *r);
/* np_http_req_read fills r from a request map; NP_ERR_WIRE when a field is malformed, or
 * when the op is missing, unknown, or does not name r's method and path (then the sender's
 * route table and ours disagree: refuse rather than guess). It extracts r->id. */
np_err np_http_req_read(const msgpack_object *root, np_http_req *r);

/* Answers. np_http_reply_json consumes body (may be NULL for an empty body). headers is a
 * NULL-terminated list of name, value pairs, or NULL. */
void np_http_reply_json(np_rpc_call *call, int status, json_t *body, const char *const *headers);
/* np_http_reply_err answers the HTTP error shape {"error": code, "message": message} with
 * err's status and code (errors.def: the one place codes come from), and message or err's
 * default one. np_http_reply_err_with adds headers (NULL-terminated name, value pairs). */
void np_http_reply_err(np_rpc_call *call, np_err err, const char *message);
void np_http_reply_err_with(np_rpc_call *call, np_err err, const char *message,
                            const char *const *headers);

/* np_http_refuse_relay_key answers 403 not_allowed ("use a signed-in session") and returns true
 * when r was authenticated with a relay key (np-...). Relay keys reach the relay and GET /auth/me
 * only; the gateway refuses them elsewhere, and every service checks again so a caller inside the
 * network cannot go around the gateway. */
bool np_http_refuse_relay_key(np_rpc_call *call, const np_http_req *r);

/* np_path_match matches path against pattern, where "{id}" matches a positive decimal
 * id (stored in *id) and every other character must be equal. */
bool np_path_match(const char *pattern, const char *path, int64_t *id);
/* np_url_decode decodes n bytes of a query string part (%XX and '+') into out; false on a bad
 * escape, a control character (NUL included) or when out is too small. */
bool np_url_decode(const char *s, size_t n, char *out, size_t outlen);
/* np_query_get finds name in a query string and URL-decodes its value into out; false
 * when absent, too long, or badly encoded (np_url_decode). */
bool np_query_get(const char *query, const char *name, char *out, size_t outlen);

#endif
