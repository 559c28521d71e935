/* Counters and last-seen requests that tests read back through GET /__stats and /__last. */
#ifndef FAKE_STATS_H
#define FAKE_STATS_H

#include <jansson.h>
#include <stdint.h>

struct stats {
    json_t *requests;     /* {token: {route: count}} */
    json_t *responses;    /* {"status": count} */
    json_t *peak;         /* {token: most generations seen at once, rejected ones included} */
    json_t *spent;        /* {token: Anlas deducted} */
    json_t *last;         /* {route: record of the last request} */
    json_t *last_headers; /* headers of the most recent request, any route */
    uint64_t total;
    uint64_t lock_violations;   /* overlapping generations on one token: a relay bug */
    uint64_t locked_rejections; /* 429s from tokens whose behaviour is "locked" */
};

void stats_init(struct stats *st);
void stats_fini(struct stats *st);
/* stats_reset: zeroes every counter and forgets the last requests. */
void stats_reset(struct stats *st);
void stats_count_request(struct stats *st, const char *token, const char *route);
void stats_count_response(struct stats *st, int status);
/* stats_note_concurrency: raises the token's peak to n if n is higher. */
void stats_note_concurrency(struct stats *st, const char *token, unsigned n);
void stats_add_spent(struct stats *st, const char *token, int64_t anlas);
/* stats_record_last: keeps record (consumed) as the last request seen on route. */
void stats_record_last(struct stats *st, const char *route, json_t *record);
/* stats_last: the last record for route (borrowed), or NULL. */
json_t *stats_last(const struct stats *st, const char *route);
/* stats_to_json: a new object with everything above, plus the given in-flight count. */
json_t *stats_to_json(const struct stats *st, unsigned in_flight);

#endif
