/* The parts every back-end service shares. */
#include "np/service.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "np/config_watch.h"
#include "np/log.h"

void
np_service_no_core_dumps(const char *name)
{
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        np_log_warn(name, "cannot turn core dumps off: a crash could write secrets to disk");
    }
}

np_err
np_service_open(np_service *s, const char *name, np_config *cfg, char *why, size_t whylen)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->cfg = cfg;
    np_settings *snap = np_config_acquire(cfg);
    const np_common_settings *cs = np_settings_common(snap);
    snprintf(s->node, sizeof(s->node), "%s", cs->NODE_ID);
    char app[64], reason[256] = "";
    snprintf(app, sizeof(app), "naipool-%s", name);
    np_err err =
        np_db_open(&s->db, cs->DATABASE_URL, (int)cs->DB_POOL_SIZE, app, reason, sizeof(reason));
    np_settings_release(snap);
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "DATABASE_URL: %s cannot reach the database: %s", name, reason);
        return err;
    }
    err = np_events_open(&s->events, name, cfg);
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "%s: cannot open the events producer", name);
        np_db_close(s->db);
        s->db = NULL;
        return err;
    }
    err = np_config_watch_acquire(cfg, s->db);
    s->watching = err == NP_ERR_OK;
    if (err == NP_ERR_OK) {
        err = np_heartbeat_open(&s->heartbeat, s->db, cfg, name, s->node);
    }
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "%s: cannot start the heartbeat or the config watcher", name);
        np_service_close(s);
    }
    return err;
}

void
np_service_set_metrics(np_service *s, void (*fn)(void *arg, np_buf *out), void *arg)
{
    s->metrics = fn;
    s->metrics_arg = arg;
}

static void
reply_metrics(np_service *s, np_rpc_call *call)
{
    np_buf b;
    np_buf_init(&b, 1u << 20);
    np_events_metrics_render(s->events, s->name, s->node, &b);
    np_buf_printf(&b,
                  "# HELP naipool_%s_rpc_unauthenticated_total requests dropped unanswered for "
                  "lacking a valid INTERNAL_SECRET MAC\n"
                  "# TYPE naipool_%s_rpc_unauthenticated_total counter\n"
                  "naipool_%s_rpc_unauthenticated_total{node=\"%s\"} %llu\n",
                  s->name, s->name, s->name, s->node,
                  (unsigned long long)np_rpc_server_dropped(s->rpc));
    np_buf_printf(&b,
                  "# HELP naipool_%s_ping_db_checks_total pings answered (the gateway's /readyz), "
                  "one database round trip each\n"
                  "# TYPE naipool_%s_ping_db_checks_total counter\n"
                  "naipool_%s_ping_db_checks_total{node=\"%s\"} %llu\n",
                  s->name, s->name, s->name, s->node, (unsigned long long)atomic_load(&s->pings));
    if (s->metrics != NULL) {
        s->metrics(s->metrics_arg, &b);
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_strn(&w, "t", b.data ? b.data : "", b.len);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
    np_buf_fini(&b);
}

static void
on_call(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    np_service *s = arg;
    if (strcmp(op, "events.stats") == 0) {
        np_service_reply_events_stats(s, call);
        return;
    }
    if (strcmp(op, "metrics") == 0) {
        reply_metrics(s, call);
        return;
    }
    s->handler(s->handler_arg, call, op, req);
}

np_err
np_service_listen(np_service *s, const char *listen_setting, const char *url,
                  const np_rpc_opts *opts, np_rpc_handler handler, void *arg, char *why,
                  size_t whylen)
{
    s->handler = handler;
    s->handler_arg = arg;
    np_err err = np_rpc_server_open(&s->rpc, url, opts, on_call, s);
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "%s: %s cannot listen on %s", listen_setting, s->name, url);
        return err;
    }
    np_log_info(s->name, "answering on %s", url);
    return NP_ERR_OK;
}

void
np_service_close(np_service *s)
{
    np_rpc_server_close(s->rpc);
    s->rpc = NULL;
    np_heartbeat_close(s->heartbeat);
    s->heartbeat = NULL;
    if (s->watching) {
        np_config_watch_release(s->cfg);
        s->watching = false;
    }
    np_events_close(s->events);
    s->events = NULL;
    np_db_close(s->db);
    s->db = NULL;
}

void
np_service_reply_ping(np_service *s, np_rpc_call *call)
{
    atomic_fetch_add(&s->pings, 1);
    bool db = np_db_ping(s->db) == NP_ERR_OK;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3);
    np_wire_str(&w, "svc", s->name);
    np_wire_str(&w, "node", s->node);
    np_wire_bool(&w, "db", db);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

void
np_service_reply_events_stats(np_service *s, np_rpc_call *call)
{
    np_events_stats st;
    np_events_stats_read(s->events, &st);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 11);
    np_wire_str(&w, "svc", s->name);
    np_wire_str(&w, "node", s->node);
    np_wire_str(&w, "p", st.producer_id);
    np_wire_int(&w, "emitted", (int64_t)st.emitted);
    np_wire_int(&w, "dropped", (int64_t)st.dropped);
    np_wire_int(&w, "sent", (int64_t)st.sent);
    np_wire_int(&w, "resent", (int64_t)st.resent);
    np_wire_int(&w, "acked", (int64_t)st.acked);
    np_wire_int(&w, "depth", (int64_t)st.depth);
    np_wire_int(&w, "inflight", (int64_t)st.inflight);
    np_wire_int(&w, "cap", (int64_t)st.capacity);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}
