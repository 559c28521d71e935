/* Capped growable buffers. */
#include "np/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
np_buf_init(np_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
np_buf_fini(np_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
np_buf_reset(np_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

np_err
np_buf_reserve(np_buf *b, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len - 1) {
        return NP_ERR_TOO_LARGE;
    }
    size_t need = b->len + n + 1;
    if (b->max != 0 && b->len + n > b->max) {
        return NP_ERR_TOO_LARGE;
    }
    if (need <= b->cap) {
        return NP_ERR_OK;
    }
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        cap *= 2;
    }
    if (b->max != 0 && cap > b->max + 1) {
        cap = b->max + 1;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        return NP_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return NP_ERR_OK;
}

np_err
np_buf_append(np_buf *b, const void *p, size_t n)
{
    np_err err = np_buf_reserve(b, n);
    if (err != NP_ERR_OK) {
        return err;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return NP_ERR_OK;
}

np_err
np_buf_puts(np_buf *b, const char *s)
{
    return np_buf_append(b, s, strlen(s));
}

np_err
np_buf_vprintf(np_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        return NP_ERR_INTERNAL;
    }
    np_err err = np_buf_reserve(b, (size_t)n);
    if (err != NP_ERR_OK) {
        return err;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return NP_ERR_OK;
}

np_err
np_buf_printf(np_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    np_err err = np_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}

np_err
np_buf_json_str(np_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    np_err err = np_buf_append(b, "\"", 1);
    for (size_t i = 0; err == NP_ERR_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            err = np_buf_append(b, e, 2);
        } else if (c == '\n') {
            err = np_buf_append(b, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            err = np_buf_append(b, e, 6);
        } else {
            err = np_buf_append(b, &s[i], 1);
        }
    }
    if (err == NP_ERR_OK) {
        err = np_buf_append(b, "\"", 1);
    }
    return err;
}

char *
np_buf_take(np_buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
