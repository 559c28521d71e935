/* The audit service's life cycle and its operation dispatch. */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include "np/httpop.h"
#include "np/service.h"

struct audit_service {
    np_service base;
};

const np_cfg_spec audit_config[] = {
    NP_CFG_END,
};

static void
on_call(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    audit_service *s = arg;
    (void)req;
    if (strcmp(op, "ping") == 0) {
        np_service_reply_ping(&s->base, call);
        return;
    }
    np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "unknown operation");
}

np_err
audit_start(audit_service **out, np_config *cfg, char *why, size_t whylen)
{
    audit_service *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    np_err err = np_service_open(&s->base, "audit", cfg, why, whylen);
    if (err == NP_ERR_OK) {
        np_rpc_opts opts = {.recv_max = (size_t)np_config_int(cfg, "MAX_BODY_BYTES") + (4u << 20)};
        err = np_service_listen(&s->base, "AUDIT_RPC_LISTEN", &opts, on_call, s, why, whylen);
    }
    if (err != NP_ERR_OK) {
        audit_stop(s);
        return err;
    }
    *out = s;
    return NP_ERR_OK;
}

void
audit_stop(audit_service *s)
{
    if (s == NULL) {
        return;
    }
    np_service_close(&s->base);
    free(s);
}
