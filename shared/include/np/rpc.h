/* Request/reply between services over NNG, with the settings DESIGN.md section 5 asks for:
 * no resend, an explicit receive size limit, TCP keepalive, non-blocking dials, a short
 * send deadline and a real receive deadline.
 *
 * Server: a rep socket with many contexts. A received request goes to a worker thread
 * (handlers may block on the database); the handler answers with np_rpc_reply either at
 * once or later from any thread (a deferred reply frees the worker, e.g. while a request
 * waits for a key). Client: a req socket; calls are blocking (from ordinary threads) or
 * asynchronous (the callback runs on an NNG thread and must not block). */
#ifndef NP_RPC_H
#define NP_RPC_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"
#include "np/wire.h"

typedef struct {
    size_t recv_max;     /* NNG_OPT_RECVMAXSZ; 0: 1 MiB */
    int send_timeout_ms; /* 0: 1000 */
    int contexts;        /* server: concurrent requests; 0: 64 */
    int workers;         /* server: worker threads; 0: 4 */
    int resolve_seconds; /* client: how often names are resolved again; 0: 10, <0: never */
} np_rpc_opts;

typedef struct np_rpc_server np_rpc_server;
typedef struct np_rpc_call np_rpc_call;

/* A handler runs on a worker thread with the request's parsed root map and op. It must
 * call np_rpc_reply or np_rpc_reply_error exactly once, now or later. req stays valid
 * until then. */
typedef void (*np_rpc_handler)(void *arg, np_rpc_call *call, const char *op,
                               const msgpack_object *req);

/* np_rpc_server_open listens on url ("inproc://auth", "tcp://0.0.0.0:7101", comma
 * separated for several) and starts serving with handler. */
np_err np_rpc_server_open(np_rpc_server **out, const char *url, const np_rpc_opts *opts,
                          np_rpc_handler handler, void *arg);
/* np_rpc_server_close stops receiving, waits for the workers and frees everything. Every
 * deferred call must have been answered before (answers after close are dropped safely
 * only while the server still exists). NULL is accepted. */
void np_rpc_server_close(np_rpc_server *s);

/* np_rpc_server_dropped returns how many requests were dropped unanswered for lacking a valid
 * INTERNAL_SECRET MAC (np/wire_mac.h). */
uint64_t np_rpc_server_dropped(np_rpc_server *s);

/* np_rpc_reply sends the writer's bytes as the answer; the call is gone afterwards. */
void np_rpc_reply(np_rpc_call *call, const np_wire_writer *w);
void np_rpc_reply_error(np_rpc_call *call, np_err err, const char *message);

typedef struct np_rpc_client np_rpc_client;

/* np_rpc_client_open dials url (comma separated for several peers; a tcp host name stands for
 * every address it resolves to, followed over time: np/dialset.h) without waiting. */
np_err np_rpc_client_open(np_rpc_client **out, const char *url, const np_rpc_opts *opts);
/* np_rpc_client_pipes returns how many live connections the client has (0: no peer answers,
 * e.g. the one instance behind it died; it counts again when a connection comes back). */
int np_rpc_client_pipes(np_rpc_client *c);
void np_rpc_client_close(np_rpc_client *c);

/* np_rpc_call sends req and waits up to timeout_ms for the answer, which the caller
 * owns (nng_msg_free) on success. Not from an NNG callback. */
np_err np_rpc_client_call(np_rpc_client *c, const np_wire_writer *req, int timeout_ms,
                          nng_msg **reply);

/* np_rpc_done receives the answer (owned by the callee: free it) or an error, on an NNG
 * thread: it must not block. */
typedef void (*np_rpc_done)(void *arg, np_err err, nng_msg *reply);
/* np_rpc_client_call_async starts a call; done runs exactly once, also when this returns an
 * error (then done is not called). */
np_err np_rpc_client_call_async(np_rpc_client *c, const np_wire_writer *req, int timeout_ms,
                                np_rpc_done done, void *arg);

#endif
