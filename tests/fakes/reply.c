/* Immediate HTTP answers: bytes, JSON documents and NovelAI-shaped errors. */
#include "reply.h"

#include <stdlib.h>
#include <string.h>

const char *
http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Unknown";
    }
}

h2o_iovec_t
pool_dup(h2o_req_t *req, const void *p, size_t n)
{
    h2o_iovec_t v = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, n != 0 ? n : 1), n);
    if (n != 0) {
        memcpy(v.base, p, n);
    }
    return v;
}

void
reply_bytes(h2o_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t buf = pool_dup(req, body, len);

    req->res.status = status;
    req->res.reason = http_reason(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void
reply_json(h2o_req_t *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(body);
    if (text == NULL) {
        static const char fallback[] = "{\"statusCode\":500,\"message\":\"Out of memory\"}";
        reply_bytes(req, 500, "application/json", fallback, sizeof(fallback) - 1);
        return;
    }
    reply_bytes(req, status, "application/json", text, strlen(text));
    free(text);
}

void
reply_error(h2o_req_t *req, int status, const char *message)
{
    reply_json(req, status, json_pack("{s:i, s:s}", "statusCode", status, "message", message));
}
