/* Acknowledgements: after a batch is committed, audit tells each producer which of its
 * events are stored, as seq ranges, on the acks pub socket (events.h gives the shape). */
#ifndef AUDIT_ACKS_H
#define AUDIT_ACKS_H

#include <stddef.h>

#include "event.h"
#include "np/errors.h"

/* At most this many ranges per message; more are split over several messages. */
#define AUDIT_ACK_RANGES_MAX 1024

/* audit_acks_fn receives one complete ack message (producer id, "\n", msgpack body); the
 * bytes are borrowed for the call. */
typedef void (*audit_acks_fn)(void *arg, const char *producer, const void *msg, size_t len);

/* audit_acks_build groups the events (borrowed) by producer, merges their seqs into ranges
 * (duplicates and adjacent seqs merge) and calls fn once per message. NP_ERR_NOMEM. */
np_err audit_acks_build(audit_event *const *evs, size_t n, audit_acks_fn fn, void *arg);

#endif
