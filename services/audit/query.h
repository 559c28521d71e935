/* Reading the query strings of the log endpoints strictly: every key known, none twice,
 * values decoded and typed; and the two value kinds the endpoints share, times (RFC 3339
 * or Unix seconds) and keyset cursors ("<time_us>_<id>", newest first). */
#ifndef AUDIT_QUERY_H
#define AUDIT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_QUERY_MAX 16
#define AUDIT_QUERY_VALUE_MAX 256

typedef struct {
    char key[32];
    char value[AUDIT_QUERY_VALUE_MAX];
} audit_qparam;

typedef struct {
    audit_qparam p[AUDIT_QUERY_MAX];
    size_t n;
} audit_query;

/* audit_query_parse splits query into decoded pairs. An empty value counts as absent (so
 * "?status=&route=" means no filter). false with a sentence in why on a bad encoding, a key
 * not in the NULL-terminated allowed list, a repeated key, or an over-long value. */
bool audit_query_parse(const char *query, const char *const *allowed, audit_query *q, char *why,
                       size_t whylen);
/* audit_query_get returns the value of key, or NULL when absent. */
const char *audit_query_get(const audit_query *q, const char *key);

/* audit_parse_int reads a decimal integer in [min, max] (no sign for min >= 0, no spaces). */
bool audit_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* audit_parse_time reads "2026-11-26", "2026-11-26T06:46:00Z", with optional fraction and
 * a "+01:00" style offset, or Unix seconds; *us is microseconds since the epoch. */
bool audit_parse_time(const char *s, int64_t *us);
/* audit_time_format writes RFC 3339 UTC with milliseconds: "2026-11-26T06:46:00.123Z". */
void audit_time_format(int64_t us, char *out, size_t outlen);

/* audit_cursor_parse reads a cursor made by audit_cursor_format. */
bool audit_cursor_parse(const char *s, int64_t *time_us, int64_t *id);
void audit_cursor_format(int64_t time_us, int64_t id, char *out, size_t outlen);

#endif
