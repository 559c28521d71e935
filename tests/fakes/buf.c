/* A growable byte buffer with a hard size cap, used to build response bodies. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
buf_fini(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static bool
reserve(struct buf *b, size_t extra)
{
    if (extra > b->max - b->len) {
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap != 0 ? b->cap : 256;
    while (cap < need) {
        cap = cap > b->max / 2 ? b->max : cap * 2;
    }
    unsigned char *p = realloc(b->data, cap);
    if (p == NULL) {
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool
buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return true;
    }
    if (!reserve(b, n)) {
        return false;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool
buf_append_u8(struct buf *b, uint8_t v)
{
    return buf_append(b, &v, 1);
}

bool
buf_append_le16(struct buf *b, uint16_t v)
{
    unsigned char p[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    return buf_append(b, p, sizeof(p));
}

bool
buf_append_le32(struct buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, p, sizeof(p));
}

bool
buf_append_be32(struct buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return buf_append(b, p, sizeof(p));
}

bool
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n + 1)) {
        return false;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}
