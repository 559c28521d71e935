/* A growable byte buffer with a hard size cap, used to build response bodies. */
#ifndef FAKE_BUF_H
#define FAKE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    unsigned char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends that would grow past this fail */
};

/* buf_init: prepares an empty buffer that may grow up to max bytes. */
void buf_init(struct buf *b, size_t max);
/* buf_fini: releases the storage; the buffer may be initialised again. */
void buf_fini(struct buf *b);
/* buf_append: copies n bytes; false when the cap or memory runs out (buffer unchanged). */
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_append_u8(struct buf *b, uint8_t v);
bool buf_append_le16(struct buf *b, uint16_t v);
bool buf_append_le32(struct buf *b, uint32_t v);
bool buf_append_be32(struct buf *b, uint32_t v);
/* buf_printf: appends formatted text (without the terminating NUL). */
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
