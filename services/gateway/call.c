/* The bridge from an NNG call back to the request's loop thread. */
#include "call.h"

#include <stdlib.h>

#include "np/log.h"

static void
on_dispose(void *p)
{
    gw_call **guard = p;
    if (*guard != NULL) {
        (*guard)->r = NULL; /* the client left: the answer will find nobody */
        (*guard)->guard = NULL;
    }
}

gw_call *
gw_call_new(gw_request *r, gw_call_fn on_reply, gw_call_fn on_gone, void *data)
{
    gw_call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->th = r->th;
    c->r = r;
    c->on_reply = on_reply;
    c->on_gone = on_gone;
    c->data = data;
    c->guard = h2o_mem_alloc_shared(&r->req->pool, sizeof(gw_call *), on_dispose);
    *c->guard = c;
    msgpack_unpacked_init(&c->msg.up);
    return c;
}

static void
detach(gw_call *c)
{
    if (c->guard != NULL) {
        *c->guard = NULL;
        c->guard = NULL;
    }
    c->r = NULL;
}

static void
on_nng_done(void *arg, np_err err, nng_msg *reply)
{
    gw_call *c = arg;
    c->err = err;
    c->reply = reply;
    h2o_multithread_send_message(&c->th->replies, &c->super);
}

static void
deliver(gw_call *c)
{
    atomic_fetch_sub(&c->th->gw->calls_out, 1);
    np_wire_msg_fini(&c->msg);
    if (c->err == NP_ERR_OK) {
        c->err = np_wire_parse(&c->msg, nng_msg_body(c->reply), nng_msg_len(c->reply));
    }
    if (c->r != NULL) {
        c->on_reply(c);
    } else if (c->on_gone != NULL) {
        c->on_gone(c);
    }
    np_wire_msg_fini(&c->msg);
    nng_msg_free(c->reply);
    c->reply = NULL;
    detach(c);
    free(c);
}

void
gw_call_start(gw_call *c, np_rpc_client *client, const np_wire_writer *req, int timeout_ms)
{
    atomic_fetch_add(&c->th->gw->calls_out, 1);
    np_err err = np_rpc_client_call_async(client, req, timeout_ms, on_nng_done, c);
    if (err != NP_ERR_OK) {
        c->err = err;
        c->reply = NULL;
        deliver(c);
    }
}

void
gw_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        deliver((gw_call *)m);
    }
}
