/* The audit service's life cycle, its settings and its operation dispatch. */
#include "audit.h"
#include "settings.h"

#include <stdlib.h>
#include <string.h>

#include "logs.h"
#include "logstats.h"
#include "np/httpop.h"
#include "np/service.h"
#include "retention.h"
#include "sink.h"
#include "trail.h"

struct audit_service {
    np_service base;
    audit_sink *sink;
};

#define NP_SETTING(...) NP_CFG_ROW(audit_settings, __VA_ARGS__)
const np_cfg_spec audit_config[] = {
#include "settings.def"
    NP_CFG_END,
};
#undef NP_SETTING
NP_CFG_TABLE(audit, audit_config);

static void
reply_sink_stats(audit_service *s, np_rpc_call *call)
{
    audit_sink_stats st;
    audit_sink_stats_read(s->sink, &st);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 13);
    np_wire_str(&w, "svc", "audit");
    np_wire_str(&w, "node", s->base.node);
    np_wire_int(&w, "messages", (int64_t)st.messages);
    np_wire_int(&w, "bad_messages", (int64_t)st.bad_messages);
    np_wire_int(&w, "received", (int64_t)st.received);
    np_wire_int(&w, "queue_drops", (int64_t)st.queue_drops);
    np_wire_int(&w, "queue", (int64_t)st.queue);
    np_wire_int(&w, "usage_rows", (int64_t)st.usage_rows);
    np_wire_int(&w, "audit_rows", (int64_t)st.audit_rows);
    np_wire_int(&w, "duplicates", (int64_t)st.duplicates);
    np_wire_int(&w, "batches", (int64_t)st.batches);
    np_wire_int(&w, "batch_failures", (int64_t)st.batch_failures);
    np_wire_int(&w, "acks", (int64_t)st.acks);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

static void
render_metrics(void *arg, np_buf *out)
{
    audit_service *s = arg;
    audit_sink_metrics_render(s->sink, s->base.node, out);
}

static void
on_http(audit_service *s, np_rpc_call *call, const msgpack_object *req)
{
    np_http_req r;
    if (np_http_req_read(req, &r) != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "malformed http request");
        return;
    }
    if (np_http_refuse_relay_key(call, &r)) {
        return;
    }
    /* The routes audit answers, by op: 0 is not ours. */
    enum { NONE, LOGS, STATS, ADMIN_LOGS, TRAIL };
    static const unsigned char routes[NP_OP__COUNT] = {
        [NP_OP_LOGS] = LOGS,
        [NP_OP_LOGS_STATS] = STATS,
        [NP_OP_ADMIN_LOGS] = ADMIN_LOGS,
        [NP_OP_ADMIN_AUDIT] = TRAIL,
    };
    int route = routes[r.op];
    if (route == NONE) {
        np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL);
        return;
    }
    /* The gateway authenticates; ownership and roles are still checked here. */
    bool admin = strcmp(r.role, "admin") == 0;
    if (r.user_id <= 0) {
        np_http_reply_err(call, NP_ERR_UNAUTHORIZED, NULL);
        return;
    }
    if (route >= ADMIN_LOGS && !admin) {
        np_http_reply_err(call, NP_ERR_FORBIDDEN, "admins only");
        return;
    }
    switch (route) {
    case LOGS: audit_logs_serve(s->base.db, s->base.cfg, call, &r, false); break;
    case STATS: audit_logstats_serve(s->base.db, call, &r); break;
    case ADMIN_LOGS: audit_logs_serve(s->base.db, s->base.cfg, call, &r, true); break;
    default: audit_trail_serve(s->base.db, call, &r); break;
    }
}

static void
on_call(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    audit_service *s = arg;
    if (strcmp(op, "ping") == 0) {
        np_service_reply_ping(&s->base, call);
    } else if (strcmp(op, "http") == 0) {
        on_http(s, call, req);
    } else if (strcmp(op, "retention.run") == 0) {
        audit_retention_serve(s->base.db, call, req);
    } else if (strcmp(op, "audit.stats") == 0) {
        reply_sink_stats(s, call);
    } else {
        np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "unknown operation");
    }
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
        err = audit_sink_open(&s->sink, s->base.db, cfg, why, whylen);
    }
    if (err == NP_ERR_OK) {
        np_service_set_metrics(&s->base, render_metrics, s);
    }
    if (err == NP_ERR_OK) {
        np_rpc_opts opts = {.recv_max = NP_HTTP_RECV_MAX};
        np_settings *snap = np_config_acquire(cfg);
        err = np_service_listen(&s->base, "AUDIT_RPC_LISTEN",
                                np_settings_common(snap)->AUDIT_RPC_LISTEN, &opts, on_call, s, why,
                                whylen);
        np_settings_release(snap);
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
    /* Stop answering first, then the sink (it writes through the service's database). */
    np_rpc_server_close(s->base.rpc);
    s->base.rpc = NULL;
    audit_sink_close(s->sink);
    np_service_close(&s->base);
    free(s);
}
