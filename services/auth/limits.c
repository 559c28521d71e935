/* Asking pool for a user's rate and contribution figures. */
#include "limits.h"

#include <nng/nng.h>

#include "np/wire.h"

static const char *const fields[] = {"rpm_limit",      "contributed_keys", "healthy_keys",
                                     "rate_remaining", "rate_reset_s",     NULL};

void
auth_limits_nulls(json_t *obj)
{
    for (int i = 0; fields[i] != NULL; i++) {
        json_object_set_new(obj, fields[i], json_null());
    }
}

bool
auth_limits_fill(np_rpc_client *pool, int timeout_ms, int64_t uid, json_t *obj)
{
    auth_limits_nulls(obj);
    if (pool == NULL) {
        return false;
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 2);
    np_wire_str(&w, "op", "user.limits");
    np_wire_int(&w, "uid", uid);
    nng_msg *reply = NULL;
    np_err err = np_rpc_client_call(pool, &w, timeout_ms, &reply);
    np_wire_writer_fini(&w);
    if (err != NP_ERR_OK) {
        return false;
    }
    np_wire_msg m;
    char message[128];
    bool answered = np_wire_parse(&m, nng_msg_body(reply), nng_msg_len(reply)) == NP_ERR_OK &&
                    np_wire_reply_error(m.root, message, sizeof(message)) == NP_ERR_OK;
    for (int i = 0; answered && fields[i] != NULL; i++) {
        int64_t v;
        if (np_wire_get_int(m.root, fields[i], &v) && v >= 0) {
            json_object_set_new(obj, fields[i], json_integer((json_int_t)v));
        }
    }
    np_wire_msg_fini(&m);
    nng_msg_free(reply);
    return answered;
}
