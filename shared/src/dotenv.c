/* A .env parser: KEY=VALUE lines, optional `export `, # comments, single quotes taken
 * literally, double quotes with \n \t \" \\ \$ escapes, unquoted values trimmed and cut at
 * " #". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "np/buf.h"
#include "np/config.h"

static bool
is_key_char(char c, bool first)
{
    return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/* parse_value reads a value starting at p (line ends at end); returns false on bad quotes. */
static bool
parse_value(const char *p, const char *end, np_buf *out)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p < end && (*p == '\'' || *p == '"')) {
        char q = *p++;
        while (p < end && *p != q) {
            if (q == '"' && *p == '\\' && p + 1 < end) {
                p++;
                char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                np_buf_append(out, &c, 1);
            } else {
                np_buf_append(out, p, 1);
            }
            p++;
        }
        if (p >= end) {
            return false; /* unterminated quote */
        }
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        return p == end || *p == '#';
    }
    const char *start = p;
    const char *stop = end;
    for (const char *s = p; s < end; s++) {
        if (*s == '#' && (s == start || s[-1] == ' ' || s[-1] == '\t')) {
            stop = s;
            break;
        }
    }
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == '\r')) {
        stop--;
    }
    np_buf_append(out, start, (size_t)(stop - start));
    return true;
}

bool
np_dotenv_parse(const char *text, size_t len, np_dotenv_fn fn, void *arg, int *bad_line)
{
    const char *p = text;
    const char *end = text + len;
    int line = 0;
    bool ok = true;
    while (p < end && ok) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            eol = end;
        }
        const char *lend = eol;
        if (lend > p && lend[-1] == '\r') {
            lend--;
        }
        const char *s = p;
        while (s < lend && (*s == ' ' || *s == '\t')) {
            s++;
        }
        if (s < lend && *s != '#') {
            if ((size_t)(lend - s) > 7 && strncmp(s, "export ", 7) == 0) {
                s += 7;
                while (s < lend && *s == ' ') {
                    s++;
                }
            }
            const char *k = s;
            while (s < lend && is_key_char(*s, s == k)) {
                s++;
            }
            const char *kend = s;
            while (s < lend && (*s == ' ' || *s == '\t')) {
                s++;
            }
            if (kend == k || s >= lend || *s != '=') {
                ok = false;
            } else {
                np_buf key, val;
                np_buf_init(&key, 256);
                np_buf_init(&val, 64 * 1024);
                np_buf_append(&key, k, (size_t)(kend - k));
                np_buf_append(&val, "", 0);
                ok = parse_value(s + 1, lend, &val);
                if (ok && key.data != NULL && val.data != NULL) {
                    fn(arg, key.data, val.data);
                }
                if (val.data != NULL) {
                    memset(val.data, 0, val.len);
                }
                np_buf_fini(&key);
                np_buf_fini(&val);
            }
        }
        p = eol + 1;
    }
    if (!ok && bad_line != NULL) {
        *bad_line = line;
    }
    return ok;
}
