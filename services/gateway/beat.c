/* The gateway's heartbeat, sent to the health service. */
#include "beat.h"

#include <nng/nng.h>

static void
send_beat(void *arg, const np_heartbeat_row *row, bool gone)
{
    gw_gateway *gw = arg;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 7);
    np_wire_str(&w, "op", "node.beat");
    np_wire_str(&w, "svc", row->svc);
    np_wire_str(&w, "node", row->node);
    np_wire_str(&w, "instance", row->instance);
    np_wire_str(&w, "version", row->version);
    np_wire_str(&w, "started", row->started);
    np_wire_bool(&w, "gone", gone);
    nng_msg *reply = NULL;
    /* Runs on the heartbeat's own thread: a blocking call is fine here. */
    if (np_rpc_client_call(gw->health, &w, 2000, &reply) == NP_ERR_OK) {
        nng_msg_free(reply);
    }
    np_wire_writer_fini(&w);
}

np_err
gw_beat_open(gw_gateway *gw, np_heartbeat **out)
{
    return np_heartbeat_open_with(out, gw->cfg, "gateway", gw->node, send_beat, gw);
}
