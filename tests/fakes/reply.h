/* Immediate HTTP answers: bytes, JSON documents and NovelAI-shaped errors. */
#ifndef FAKE_REPLY_H
#define FAKE_REPLY_H

#include <h2o.h>
#include <jansson.h>

/* http_reason: the reason phrase for status ("Unknown" for codes the fake never sends). */
const char *http_reason(int status);
/* pool_dup: a copy of n bytes that lives as long as req. */
h2o_iovec_t pool_dup(h2o_req_t *req, const void *p, size_t n);
/* reply_bytes: sends status with a copy of body and a Content-Length. */
void reply_bytes(h2o_req_t *req, int status, const char *content_type, const void *body,
                 size_t len);
/* reply_json: sends body (consumed) as application/json. */
void reply_json(h2o_req_t *req, int status, json_t *body);
/* reply_error: sends NovelAI's error shape {"statusCode":status,"message":message}. */
void reply_error(h2o_req_t *req, int status, const char *message);

#endif
