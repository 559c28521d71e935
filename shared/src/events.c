/* The events producer. For now: one JSON log line per event (see events.h). */
#include "np/events.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "np/log.h"

struct np_events {
    char svc[32];
    atomic_uint_fast64_t seq;
};

np_err
np_events_open(np_events **out, const char *svc, const np_config *cfg)
{
    (void)cfg;
    np_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL) {
        return NP_ERR_NOMEM;
    }
    snprintf(ev->svc, sizeof(ev->svc), "%s", svc);
    *out = ev;
    return NP_ERR_OK;
}

void
np_events_close(np_events *ev)
{
    free(ev);
}

void
np_events_emit(np_events *ev, const char *type, json_t *fields)
{
    if (ev == NULL) {
        json_decref(fields);
        return;
    }
    uint64_t seq = atomic_fetch_add(&ev->seq, 1) + 1;
    char *text = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
    np_log_info(ev->svc, "event %s #%llu %s", type, (unsigned long long)seq, text ? text : "{}");
    free(text);
    json_decref(fields);
}
