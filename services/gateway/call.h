/* The bridge from an NNG call back to the request's loop thread.
 *
 * State flow:
 *   1. gw_call_start (loop thread): sends the request; a guard in the request's pool notices
 *      if the client leaves first.
 *   2. the answer (or an error) arrives on an NNG thread and is handed to the loop thread
 *      with h2o_multithread_send_message (NNG callbacks never touch H2O).
 *   3. on the loop thread: if the client is still there, on_reply(call) runs; otherwise
 *      on_gone(call) runs (may be NULL). Then the call is freed.
 */
#ifndef GW_CALL_H
#define GW_CALL_H

#include <nng/nng.h>

#include "np/rpc.h"
#include "np/wire.h"
#include "server.h"

typedef struct gw_call gw_call;
typedef void (*gw_call_fn)(gw_call *call);

struct gw_call {
    h2o_multithread_message_t super;
    gw_thread *th;   /* fixed for the call's life: NNG threads read it */
    gw_request *r;   /* NULL once the client has left */
    gw_call **guard; /* lives in the request pool */
    np_err err;      /* transport error, or NP_ERR_OK */
    nng_msg *reply;  /* the answer; freed after on_reply */
    np_wire_msg msg; /* reply parsed (when err is OK) */
    gw_call_fn on_reply;
    gw_call_fn on_gone;
    void *data; /* the caller's state */
};

/* gw_call_new allocates a call bound to request r (malloc'd: it may outlive r). */
gw_call *gw_call_new(gw_request *r, gw_call_fn on_reply, gw_call_fn on_gone, void *data);
/* gw_call_start sends req to client; on a failure to even start, on_reply runs at once with
 * err set. */
void gw_call_start(gw_call *call, np_rpc_client *client, const np_wire_writer *req, int timeout_ms);
/* gw_on_replies is the loop thread's receiver callback. */
void gw_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

#endif
