/* The events interface: every service reports what happened (request finished, key state
 * changed, login failed, admin change...) through one producer. Events must never carry a
 * token, a password or a secret: only ids, masked forms and outcomes.
 *
 * This first version writes each event as a log line; the audit issue makes the transport
 * durable (NNG pub/sub with sequence numbers, an outbox and acknowledgements) behind the
 * same functions. */
#ifndef NP_EVENTS_H
#define NP_EVENTS_H

#include <jansson.h>

#include "np/config.h"
#include "np/errors.h"

typedef struct np_events np_events;

/* np_events_open creates the producer of service svc on this node. */
np_err np_events_open(np_events **out, const char *svc, const np_config *cfg);
void np_events_close(np_events *ev);

/* np_events_emit records one event of type (e.g. "auth.login_failed") with fields, which it
 * consumes (json_decref) in every case. Never blocks on the network. */
void np_events_emit(np_events *ev, const char *type, json_t *fields);

#endif
