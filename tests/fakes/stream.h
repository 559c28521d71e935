/* Answers that arrive later or in pieces, driven by loop timers, holding an account's lock. */
#ifndef FAKE_STREAM_H
#define FAKE_STREAM_H

#include <h2o.h>
#include <stdbool.h>

#include "tokens.h"

struct delay_timeout;

struct streams {
    h2o_loop_t *loop;
    struct delay_timeout *timeouts; /* one h2o_timeout_t per distinct delay */
    h2o_linklist_t running;
    unsigned count;
};

struct stream_spec {
    int status;
    const char *content_type;
    h2o_iovec_t *chunks; /* must live as long as the request (req->pool) */
    size_t nchunks;      /* at least 1 */
    unsigned first_ms;   /* before the first chunk */
    unsigned gap_ms;     /* between chunks, counted from the moment the previous one was written */
    bool trickle;        /* false: one response with Content-Length, sent after first_ms */
};

void streams_init(struct streams *s, h2o_loop_t *loop);
/* streams_fini: drops every running stream (shutdown only) and the timers. */
void streams_fini(struct streams *s);
/* stream_start: answers req per spec. When tok is not NULL its lock is held (tok->holders)
 * until the last chunk is due, even if the client leaves earlier: NovelAI keeps generating. */
void stream_start(struct streams *s, h2o_req_t *req, struct token *tok,
                  const struct stream_spec *spec);

#endif
