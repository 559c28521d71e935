/* Events as audit receives them: decoding a producer's batch message (events.h gives the
 * wire shape), removing anything that looks like a credential, and turning each event into
 * the parameters of its row (relay.finished -> usage_logs, everything else ->
 * audit_events). */
#ifndef AUDIT_EVENT_H
#define AUDIT_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"
#include "np/events.h"
#include "np/list.h"

/* Largest number of events one message may carry. */
#define AUDIT_BATCH_EVENTS_MAX 4096

typedef struct audit_event {
    char producer[NP_EVENTS_ID_MAX];
    int64_t seq;
    int64_t time_us; /* the producer's clock, clamped to a sane range */
    char type[NP_EVENTS_TYPE_MAX];
    json_t *fields;    /* an object, owned */
    np_list_node link; /* on a batch, then on the sink's queue */
} audit_event;

/* audit_batch_decode parses one events message, appending its events to out (an initialised
 * list; the events are the caller's: audit_event_free_list) and setting *count to how many.
 * NP_ERR_WIRE when anything in the message is malformed; then nothing is appended. */
np_err audit_batch_decode(const void *data, size_t len, np_list *out, size_t *count);

/* audit_event_free frees one event (off any list); NULL is accepted. */
void audit_event_free(audit_event *e);
/* audit_event_free_list frees every event of l, leaving it empty. */
void audit_event_free_list(np_list *l);

/* audit_event_is_usage: the event becomes a usage_logs row. */
bool audit_event_is_usage(const audit_event *e);

/* Row parameters: text values (NULL is SQL NULL) in a buffer owned by the struct. */
#define AUDIT_USAGE_NPARAMS 21
#define AUDIT_AUDIT_NPARAMS 7
typedef struct {
    const char *v[AUDIT_USAGE_NPARAMS];
    int n;
    char buf[2048];
    size_t used;
    char *details; /* malloc'd JSON text for audit_events.details */
} audit_params;

/* The statements the parameters fit. */
extern const char AUDIT_SQL_INSERT_USAGE[];
extern const char AUDIT_SQL_INSERT_AUDIT[];

/* audit_params_usage fills p for a relay.finished event. store_ip: LOG_REQUEST_IP is on
 * (otherwise the ip field is never stored). Values of the wrong type become NULL; strings
 * are cut at a UTF-8 boundary to their column's bound. */
void audit_params_usage(audit_params *p, const audit_event *e, bool store_ip);
/* audit_params_audit fills p for any other event: actor, subject and details derived from
 * the fields (see audit_event_actor and audit_event_subject). minimal: store only a note
 * instead of the details (used when the full row could not be stored). NP_ERR_NOMEM. */
np_err audit_params_audit(audit_params *p, const audit_event *e, bool minimal);
void audit_params_fini(audit_params *p);

/* audit_event_actor returns the acting user id (actor_user_id, else admin_id, else
 * user_id), 0 when none. */
int64_t audit_event_actor(const audit_event *e);
/* audit_event_subject writes what the event is about ("key:12", "user:5", "relay_key:3",
 * "config:PER_KEY_RPM", or the subject field as given); false when nothing applies. */
bool audit_event_subject(const audit_event *e, char *out, size_t outlen);

/* audit_fields_redact replaces the values of credential-named fields (token, password,
 * secret, authorization...) anywhere in obj by "[redacted]"; returns how many. */
int audit_fields_redact(json_t *obj);

#endif
