/* The auth service's own request helpers (the shared ones are in np/request.h). */
#include "request.h"

#include <stdio.h>

#include "np/request.h"

PGconn *
auth_db_get(auth_service *s, np_rpc_call *call)
{
    return np_request_db(call, s->base.db, AUTH_DB_WAIT_MS);
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
