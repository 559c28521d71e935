/* The parts every back-end service shares. */
#include "np/service.h"

#include <stdio.h>
#include <string.h>

#include "np/log.h"

np_err
np_service_open(np_service *s, const char *name, np_config *cfg, char *why, size_t whylen)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->cfg = cfg;
    np_config_str(cfg, "NODE_ID", s->node, sizeof(s->node));
    char *url = np_config_strdup(cfg, "DATABASE_URL");
    if (url == NULL) {
        return NP_ERR_NOMEM;
    }
    char app[64], reason[256] = "";
    snprintf(app, sizeof(app), "naipool-%s", name);
    np_err err = np_db_open(&s->db, url, (int)np_config_int(cfg, "DB_POOL_SIZE"), app, reason,
                            sizeof(reason));
    memset(url, 0, strlen(url));
    free(url);
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "DATABASE_URL: %s cannot reach the database: %s", name, reason);
        return err;
    }
    err = np_events_open(&s->events, name, cfg);
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "%s: cannot open the events producer", name);
        np_db_close(s->db);
        s->db = NULL;
    }
    return err;
}

np_err
np_service_listen(np_service *s, const char *listen_setting, const np_rpc_opts *opts,
                  np_rpc_handler handler, void *arg, char *why, size_t whylen)
{
    char url[512];
    np_config_str(s->cfg, listen_setting, url, sizeof(url));
    np_err err = np_rpc_server_open(&s->rpc, url, opts, handler, arg);
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
    np_events_close(s->events);
    s->events = NULL;
    np_db_close(s->db);
    s->db = NULL;
}

void
np_service_reply_ping(np_service *s, np_rpc_call *call)
{
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
