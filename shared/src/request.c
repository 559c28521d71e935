/* Request and answer helpers shared by the services' HTTP handlers. */
#include "np/request.h"

#include <stdio.h>

#include "np/json.h"

np_err
np_request_body_parse(const np_http_req *r, const char *const *allowed, json_t **out, char *why,
                      size_t whylen)
{
    *out = NULL;
    if (r->body_len > NP_HTTP_BODY_MAX) {
        snprintf(why, whylen, "the body is larger than 64 KiB");
        return NP_ERR_TOO_LARGE;
    }
    json_t *j = NULL;
    np_err err = np_json_parse_object(r->body, r->body_len, &j, why, whylen);
    if (err != NP_ERR_OK) {
        return err;
    }
    if (!np_json_only_keys(j, allowed, why, whylen)) {
        json_decref(j);
        return NP_ERR_INVALID;
    }
    *out = j;
    return NP_ERR_OK;
}

bool
np_request_body(np_rpc_call *call, const np_http_req *r, const char *const *allowed, json_t **out)
{
    char why[256] = "";
    np_err err = np_request_body_parse(r, allowed, out, why, sizeof(why));
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, why);
        return false;
    }
    return true;
}

void
np_request_reply_retry(np_rpc_call *call, np_err err, const char *message, int64_t seconds)
{
    char value[24];
    snprintf(value, sizeof(value), "%lld", (long long)(seconds > 0 ? seconds : 1));
    const char *const headers[] = {"Retry-After", value, NULL};
    np_http_reply_err_with(call, err, message, headers);
}

PGconn *
np_request_db(np_rpc_call *call, np_db *db, int wait_ms)
{
    PGconn *c = np_db_acquire(db, wait_ms);
    if (c == NULL) {
        np_request_reply_retry(call, NP_ERR_DB, NULL, 5);
    }
    return c;
}
