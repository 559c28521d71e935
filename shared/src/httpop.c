/* The "http" operation between the gateway and the services. */
#include "np/httpop.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *method, *pattern;
} ops[NP_OP__COUNT] = {
#define OP(name, num, m, p) [num] = {m, p},
#include "np/httpops.def"
#undef OP
};

#define OP(name, num, m, p) _Static_assert(num > 0 && num < NP_OP__COUNT, "op number " #name);
#include "np/httpops.def"
#undef OP

const char *
np_http_op_method(np_http_op op)
{
    return op > 0 && op < NP_OP__COUNT ? ops[op].method : NULL;
}

const char *
np_http_op_pattern(np_http_op op)
{
    return op > 0 && op < NP_OP__COUNT ? ops[op].pattern : NULL;
}

np_http_op
np_http_op_find(const char *method, const char *path)
{
    for (int i = 1; i < NP_OP__COUNT; i++) {
        if (ops[i].method != NULL && strcmp(ops[i].method, method) == 0 &&
            np_path_match(ops[i].pattern, path, NULL)) {
            return (np_http_op)i;
        }
    }
    return NP_OP_NONE;
}

void
np_http_req_write(np_wire_writer *w, const np_http_req *r)
{
    bool authed = r->user_id > 0;
    np_wire_begin(w, authed ? 9 : 8);
    np_wire_str(w, "op", "http");
    np_wire_int(w, "o", (int64_t)r->op);
    np_wire_str(w, "m", r->method);
    np_wire_str(w, "p", r->path);
    np_wire_str(w, "q", r->query);
    np_wire_bin(w, "b", r->body ? r->body : "", r->body_len);
    np_wire_str(w, "ip", r->ip);
    np_wire_str(w, "rid", r->rid);
    if (authed) {
        np_wire_key(w, "u");
        msgpack_pack_map(&w->pk, 3);
        np_wire_int(w, "id", r->user_id);
        np_wire_str(w, "role", r->role);
        np_wire_int(w, "kid", r->relay_key_id);
    }
}

np_err
np_http_req_read(const msgpack_object *root, np_http_req *r)
{
    memset(r, 0, sizeof(*r));
    if (!np_wire_get_cstr(root, "m", r->method, sizeof(r->method)) ||
        !np_wire_get_cstr(root, "p", r->path, sizeof(r->path)) ||
        !np_wire_get_cstr(root, "q", r->query, sizeof(r->query)) ||
        !np_wire_get_bin(root, "b", &r->body, &r->body_len) ||
        !np_wire_get_cstr(root, "ip", r->ip, sizeof(r->ip)) ||
        !np_wire_get_cstr(root, "rid", r->rid, sizeof(r->rid))) {
        return NP_ERR_WIRE;
    }
    const msgpack_object *u = np_wire_get(root, "u");
    if (u != NULL) {
        if (u->type != MSGPACK_OBJECT_MAP || !np_wire_get_int(u, "id", &r->user_id) ||
            !np_wire_get_cstr(u, "role", r->role, sizeof(r->role)) ||
            !np_wire_get_int(u, "kid", &r->relay_key_id) || r->user_id <= 0) {
            return NP_ERR_WIRE;
        }
    }
    int64_t op = 0;
    if (!np_wire_get_int(root, "o", &op) || op <= 0 || op >= NP_OP__COUNT ||
        ops[op].method == NULL || strcmp(ops[op].method, r->method) != 0 ||
        !np_path_match(ops[op].pattern, r->path, &r->id)) {
        return NP_ERR_WIRE;
    }
    r->op = (np_http_op)op;
    return NP_ERR_OK;
}

static void
reply(np_rpc_call *call, int status, const char *ctype, const char *body, size_t len,
      const char *const *headers)
{
    int nh = 0;
    for (int i = 0; headers != NULL && headers[i] != NULL; i += 2) {
        nh++;
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3 + (nh > 0));
    np_wire_int(&w, "s", status);
    np_wire_bin(&w, "b", body ? body : "", body ? len : 0);
    np_wire_str(&w, "ct", ctype);
    if (nh > 0) {
        np_wire_key(&w, "h");
        msgpack_pack_map(&w.pk, (uint32_t)nh);
        for (int i = 0; headers[i] != NULL; i += 2) {
            np_wire_str(&w, headers[i], headers[i + 1]);
        }
    }
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

void
np_http_reply_json(np_rpc_call *call, int status, json_t *body, const char *const *headers)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    reply(call, status, body ? "application/json" : "", text, text ? strlen(text) : 0, headers);
    free(text);
    json_decref(body);
}

void
np_http_reply_err_with(np_rpc_call *call, np_err err, const char *message,
                       const char *const *headers)
{
    json_t *j = json_pack("{s:s, s:s}", "error", np_err_code(err), "message",
                          message && message[0] ? message : np_err_message(err));
    np_http_reply_json(call, np_err_status(err), j, headers);
}

void
np_http_reply_err(np_rpc_call *call, np_err err, const char *message)
{
    np_http_reply_err_with(call, err, message, NULL);
}

bool
np_http_refuse_relay_key(np_rpc_call *call, const np_http_req *r)
{
    if (r->relay_key_id == 0) {
        return false;
    }
    np_http_reply_err(call, NP_ERR_SESSION_REQUIRED, NULL);
    return true;
}

bool
np_path_match(const char *pattern, const char *path, int64_t *id)
{
    while (*pattern != '\0') {
        if (strncmp(pattern, "{id}", 4) == 0) {
            if (!isdigit((unsigned char)*path) || *path == '0') {
                return false;
            }
            int64_t v = 0;
            int digits = 0;
            while (isdigit((unsigned char)*path)) {
                if (++digits > 18) {
                    return false;
                }
                v = v * 10 + (*path++ - '0');
            }
            if (id != NULL) {
                *id = v;
            }
            pattern += 4;
            continue;
        }
        if (*pattern++ != *path++) {
            return false;
        }
    }
    return *path == '\0';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool
np_url_decode(const char *s, size_t n, char *out, size_t outlen)
{
    const char *end = s + n;
    size_t o = 0;
    for (; s < end; s++) {
        char c = *s;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (end - s < 3 || hexval(s[1]) < 0 || hexval(s[2]) < 0) {
                return false;
            }
            c = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || o + 1 >= outlen) {
            return false;
        }
        out[o++] = c;
    }
    if (outlen == 0) {
        return false;
    }
    out[o] = '\0';
    return true;
}

bool
np_query_get(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
            (p[nlen] == '=' || p + nlen == end)) {
            const char *v = p + nlen + (p[nlen] == '=');
            return np_url_decode(v, (size_t)(end - v), out, outlen);
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}
