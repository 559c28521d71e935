/* Request and answer helpers for the auth service's HTTP handlers. */
#include "request.h"

#include <stdio.h>

#include "np/json.h"

bool
auth_body_read(np_rpc_call *call, const np_http_req *r, const char *const *allowed, json_t **out)
{
    char why[256] = "";
    if (r->body_len > AUTH_BODY_MAX) {
        np_http_reply_err(call, NP_ERR_TOO_LARGE, "the body is larger than 64 KiB");
        return false;
    }
    json_t *j = NULL;
    if (np_json_parse_object(r->body, r->body_len, &j, why, sizeof(why)) != NP_ERR_OK) {
        auth_reply_invalid(call, why);
        return false;
    }
    if (!np_json_only_keys(j, allowed, why, sizeof(why))) {
        json_decref(j);
        auth_reply_invalid(call, why);
        return false;
    }
    *out = j;
    return true;
}

void
auth_reply_invalid(np_rpc_call *call, const char *why)
{
    np_http_reply_err(call, NP_ERR_INVALID, why);
}

void
auth_reply_retry(np_rpc_call *call, np_err err, const char *message, int64_t seconds)
{
    char value[24];
    snprintf(value, sizeof(value), "%lld", (long long)(seconds > 0 ? seconds : 1));
    const char *const headers[] = {"Retry-After", value, NULL};
    np_http_reply_err_with(call, err, message, headers);
}

PGconn *
auth_db_get(auth_service *s, np_rpc_call *call)
{
    PGconn *c = np_db_acquire(s->base.db, AUTH_DB_WAIT_MS);
    if (c == NULL) {
        auth_reply_retry(call, NP_ERR_DB, NULL, 5);
    }
    return c;
}

void
auth_db_put(auth_service *s, PGconn *c)
{
    if (c != NULL) {
        np_db_release(s->base.db, c);
    }
}

char *
auth_id_text(int64_t id, char buf[24])
{
    snprintf(buf, 24, "%lld", (long long)id);
    return buf;
}

json_t *
auth_json_time(const char *text)
{
    return text != NULL && text[0] != '\0' ? json_string(text) : json_null();
}
