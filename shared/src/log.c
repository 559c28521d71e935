/* JSON-lines logging. One write(2) per line so lines from many threads never interleave. */
#include "np/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "np/buf.h"

/* The one process-wide setting of this module: a minimum level set once at start-up. */
static atomic_int min_level = NP_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
np_log_setup(const char *level)
{
    for (int i = 0; level != NULL && i < 4; i++) {
        if (strcmp(level, level_names[i]) == 0) {
            atomic_store(&min_level, i);
        }
    }
}

static bool
token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

size_t
np_log_redact(char *s, size_t len, int *found)
{
    static const char mark[] = "[redacted]";
    static const char *const prefixes[] = {"pst-", "np-"};
    size_t out = 0, i = 0;
    int n = 0;
    while (i < len) {
        size_t plen = 0;
        bool boundary = i == 0 || !((s[i - 1] >= 'a' && s[i - 1] <= 'z') ||
                                    (s[i - 1] >= 'A' && s[i - 1] <= 'Z') ||
                                    (s[i - 1] >= '0' && s[i - 1] <= '9'));
        for (int k = 0; boundary && k < 2 && plen == 0; k++) {
            size_t pl = strlen(prefixes[k]);
            if (len - i >= pl && strncasecmp(s + i, prefixes[k], pl) == 0) {
                plen = pl;
            }
        }
        size_t run = 0;
        while (plen > 0 && i + plen + run < len && token_char(s[i + plen + run])) {
            run++;
        }
        if (plen > 0 && run >= NP_LOG_TOKEN_MIN) {
            memmove(s + out, s + i, plen);
            memcpy(s + out + plen, mark, sizeof(mark) - 1); /* shorter than run: in place */
            out += plen + sizeof(mark) - 1;
            i += plen + run;
            n++;
            continue;
        }
        s[out++] = s[i++];
    }
    if (out < len) {
        s[out] = '\0';
    }
    if (found != NULL) {
        *found = n;
    }
    return out;
}

void
np_log_write(np_log_level lvl, const char *svc, const char *rid, const char *fmt, ...)
{
    if ((int)lvl < atomic_load(&min_level)) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t mlen = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    mlen = np_log_redact(msg, mlen, NULL); /* no token in a log line, whoever wrote it */

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

    np_buf b;
    np_buf_init(&b, 8192);
    np_buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", when, ts.tv_nsec / 1000000,
                  level_names[lvl]);
    if (svc != NULL) {
        np_buf_puts(&b, ",\"svc\":");
        np_buf_json_str(&b, svc, strlen(svc));
    }
    if (rid != NULL && rid[0] != '\0') {
        np_buf_puts(&b, ",\"rid\":");
        np_buf_json_str(&b, rid, strlen(rid));
    }
    np_buf_puts(&b, ",\"msg\":");
    np_buf_json_str(&b, msg, mlen);
    np_buf_puts(&b, "}\n");
    if (b.data != NULL) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w;
    }
    np_buf_fini(&b);
}
