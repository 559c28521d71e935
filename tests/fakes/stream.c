/* Answers that arrive later or in pieces, driven by loop timers, holding an account's lock. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "reply.h"

/*
 * State flow of one stream:
 *   1. stream_start: take the lock, arm the timer for first_ms.
 *   2. timer fires: with a client, start the response and send the next chunk (all of them when
 *      not trickling); without one, just count the chunk as done.
 *   3. the last chunk was sent or counted: release the lock, free the stream.
 *   4. otherwise: proceed() (the chunk was written) arms the timer for gap_ms, back to 2.
 * The client can vanish at any point: stop() (response started) or the pool's dispose callback
 * (not started) clear stream->req, and the timer keeps running so the lock lasts as long as the
 * generation would have.
 */

struct delay_timeout {
    uint64_t ms;
    h2o_timeout_t timeout;
    struct delay_timeout *next;
};

struct stream {
    h2o_generator_t gen; /* first member: H2O passes it back to proceed and stop */
    h2o_timeout_entry_t timer;
    h2o_linklist_t link;
    struct streams *owner;
    h2o_req_t *req;       /* NULL once the client is gone */
    struct stream **slot; /* in req->pool; lets the pool's dispose find us */
    struct token *tok;    /* whose lock we hold, or NULL */
    h2o_iovec_t *chunks;
    size_t nchunks;
    size_t next;
    unsigned gap_ms;
    bool trickle;
    bool started;
    bool writing;
};

void
streams_init(struct streams *s, h2o_loop_t *loop)
{
    s->loop = loop;
    s->timeouts = NULL;
    h2o_linklist_init_anchor(&s->running);
    s->count = 0;
}

static h2o_timeout_t *
timeout_for(struct streams *s, uint64_t ms)
{
    for (struct delay_timeout *t = s->timeouts; t != NULL; t = t->next) {
        if (t->ms == ms) {
            return &t->timeout;
        }
    }
    struct delay_timeout *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        abort();
    }
    t->ms = ms;
    h2o_timeout_init(s->loop, &t->timeout, ms);
    t->next = s->timeouts;
    s->timeouts = t;
    return &t->timeout;
}

static void
arm(struct stream *st, unsigned ms)
{
    if (!h2o_timeout_is_linked(&st->timer)) {
        h2o_timeout_link(st->owner->loop, timeout_for(st->owner, ms), &st->timer);
    }
}

static void
detach_req(struct stream *st)
{
    if (st->slot != NULL) {
        *st->slot = NULL;
        st->slot = NULL;
    }
    st->req = NULL;
}

static void
stream_free(struct stream *st)
{
    if (st->tok != NULL) {
        st->tok->holders--;
    }
    if (h2o_timeout_is_linked(&st->timer)) {
        h2o_timeout_unlink(&st->timer);
    }
    detach_req(st);
    h2o_linklist_unlink(&st->link);
    st->owner->count--;
    free(st);
}

static void
on_pool_dispose(void *p)
{
    struct stream **slot = p;
    if (*slot != NULL) {
        (*slot)->slot = NULL;
        (*slot)->req = NULL;
    }
}

static void
on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct stream *st = (struct stream *)gen;
    detach_req(st);
    if (st->writing) {
        st->writing = false;
        arm(st, st->gap_ms);
    }
}

static void
on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct stream *st = (struct stream *)gen;
    st->writing = false;
    arm(st, st->gap_ms);
}

static void
on_timer(h2o_timeout_entry_t *entry)
{
    struct stream *st = H2O_STRUCT_FROM_MEMBER(struct stream, timer, entry);
    h2o_req_t *req = st->req;

    if (req == NULL) {
        st->next = st->trickle ? st->next + 1 : st->nchunks;
        if (st->next >= st->nchunks) {
            stream_free(st);
        } else {
            arm(st, st->gap_ms);
        }
        return;
    }
    if (!st->started) {
        st->started = true;
        h2o_start_response(req, &st->gen);
    }
    size_t first = st->next;
    size_t count = st->trickle ? 1 : st->nchunks - first;
    st->next += count;
    if (st->next < st->nchunks) {
        st->writing = true;
        h2o_send(req, st->chunks + first, count, H2O_SEND_STATE_IN_PROGRESS);
        return;
    }
    /* The final send hands the request back to H2O: forget it first, then let go of the lock. */
    detach_req(st);
    h2o_send(req, st->chunks + first, count, H2O_SEND_STATE_FINAL);
    stream_free(st);
}

void
stream_start(struct streams *s, h2o_req_t *req, struct token *tok, const struct stream_spec *spec)
{
    struct stream *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        reply_error(req, 500, "Out of memory");
        return;
    }
    st->gen.proceed = on_proceed;
    st->gen.stop = on_stop;
    st->timer.cb = on_timer;
    st->owner = s;
    st->req = req;
    st->slot = h2o_mem_alloc_shared(&req->pool, sizeof(*st->slot), on_pool_dispose);
    *st->slot = st;
    st->tok = tok;
    st->chunks = spec->chunks;
    st->nchunks = spec->nchunks;
    st->gap_ms = spec->gap_ms;
    st->trickle = spec->trickle;
    if (tok != NULL) {
        tok->holders++;
    }
    h2o_linklist_insert(&s->running, &st->link);
    s->count++;

    req->res.status = spec->status;
    req->res.reason = http_reason(spec->status);
    if (!spec->trickle) {
        size_t total = 0;
        for (size_t i = 0; i < spec->nchunks; i++) {
            total += spec->chunks[i].len;
        }
        req->res.content_length = total;
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, spec->content_type,
                   strlen(spec->content_type));
    if (spec->trickle) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-cache"));
    }
    arm(st, spec->first_ms);
}

void
streams_fini(struct streams *s)
{
    while (!h2o_linklist_is_empty(&s->running)) {
        stream_free(H2O_STRUCT_FROM_MEMBER(struct stream, link, s->running.next));
    }
    while (s->timeouts != NULL) {
        struct delay_timeout *t = s->timeouts;
        s->timeouts = t->next;
        h2o_timeout_dispose(s->loop, &t->timeout);
        free(t);
    }
}
