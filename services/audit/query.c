/* Strict query strings, times and cursors for the log endpoints. */
#include "query.h"

#include "np/httpop.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* decode URL-decodes [s, end) into out (np_url_decode's rules). */
static bool
decode(const char *s, const char *end, char *out, size_t outlen)
{
    return np_url_decode(s, (size_t)(end - s), out, outlen);
}

bool
audit_query_parse(const char *query, const char *const *allowed, audit_query *q, char *why,
                  size_t whylen)
{
    q->n = 0;
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if (end == p) {
            p = amp ? amp + 1 : NULL; /* "a=1&&b=2": an empty piece is harmless */
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char key[32];
        if (!decode(p, kend, key, sizeof(key))) {
            snprintf(why, whylen, "a query parameter name is malformed or too long");
            return false;
        }
        bool known = false;
        for (int i = 0; allowed[i] != NULL && !known; i++) {
            known = strcmp(allowed[i], key) == 0;
        }
        if (!known) {
            char list[256] = "";
            size_t used = 0;
            for (int i = 0; allowed[i] != NULL; i++) {
                int w =
                    snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", allowed[i]);
                if (w < 0 || (size_t)w >= sizeof(list) - used) {
                    break;
                }
                used += (size_t)w;
            }
            snprintf(why, whylen, "unknown query parameter '%.31s' (allowed: %s)", key, list);
            return false;
        }
        for (size_t i = 0; i < q->n; i++) {
            if (strcmp(q->p[i].key, key) == 0) {
                snprintf(why, whylen, "query parameter '%s' is given more than once", key);
                return false;
            }
        }
        if (q->n == AUDIT_QUERY_MAX) {
            snprintf(why, whylen, "too many query parameters");
            return false;
        }
        audit_qparam *qp = &q->p[q->n];
        if (!decode(eq ? eq + 1 : end, end, qp->value, sizeof(qp->value))) {
            snprintf(why, whylen, "query parameter '%s' is malformed or too long", key);
            return false;
        }
        /* Kept even when empty (for the duplicate check); audit_query_get treats an empty
         * value as absent. */
        snprintf(qp->key, sizeof(qp->key), "%s", key);
        q->n++;
        p = amp ? amp + 1 : NULL;
    }
    return true;
}

const char *
audit_query_get(const audit_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->p[i].key, key) == 0) {
            return q->p[i].value[0] ? q->p[i].value : NULL;
        }
    }
    return NULL;
}

bool
audit_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = false;
    if (*s == '-' && min < 0) {
        neg = true;
        s++;
    }
    if (*s == '\0' || strlen(s) > 18) {
        return false;
    }
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        v = v * 10 + (*s - '0');
    }
    v = neg ? -v : v;
    if (v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool
digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i])) {
            return false;
        }
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return true;
}

static bool
leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool
audit_parse_time(const char *s, int64_t *us)
{
    int64_t secs;
    if (audit_parse_int(s, 0, 7258118400LL, &secs)) {
        *us = secs * 1000000;
        return true;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0;
    const char *p = s;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d)) {
        return false;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || y > 2199 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && leap(y))) {
        return false;
    }
    int64_t frac_us = 0, offset = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
            !digits(&p, 2, &sec) || h > 23 || mi > 59 || sec > 60) {
            return false;
        }
        if (*p == '.') {
            p++;
            int64_t scale = 100000;
            if (!isdigit((unsigned char)*p)) {
                return false;
            }
            for (; isdigit((unsigned char)*p); p++) {
                frac_us += (*p - '0') * scale;
                scale /= 10;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59) {
                return false;
            }
            offset = sign * (oh * 3600 + om * 60);
        } else {
            return false; /* a time without a zone is ambiguous */
        }
    }
    if (*p != '\0') {
        return false;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    int64_t t = (int64_t)timegm(&tm) - offset;
    *us = t * 1000000 + frac_us;
    return true;
}

void
audit_time_format(int64_t us, char *out, size_t outlen)
{
    time_t t = (time_t)(us / 1000000);
    int64_t rem = us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        t--;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000));
}

bool
audit_cursor_parse(const char *s, int64_t *time_us, int64_t *id)
{
    const char *sep = strchr(s, '_');
    if (sep == NULL || sep == s || sep - s > 18) {
        return false;
    }
    char head[20];
    snprintf(head, sizeof(head), "%.*s", (int)(sep - s), s);
    return audit_parse_int(head, 0, INT64_MAX / 2, time_us) &&
           audit_parse_int(sep + 1, 1, INT64_MAX / 2, id);
}

void
audit_cursor_format(int64_t time_us, int64_t id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%lld_%lld", (long long)time_us, (long long)id);
}
