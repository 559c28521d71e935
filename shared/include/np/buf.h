/* Growable byte buffers with a hard cap: every size read from outside is checked against
 * the cap before anything is allocated. */
#ifndef NP_BUF_H
#define NP_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "np/errors.h"

typedef struct {
    char *data; /* always NUL-terminated when non-NULL (the NUL is not counted in len) */
    size_t len;
    size_t cap;
    size_t max; /* 0: no cap */
} np_buf;

/* np_buf_init prepares caller-owned storage; max 0 means uncapped. */
void np_buf_init(np_buf *b, size_t max);
/* np_buf_fini frees the storage; the buffer may be used again after np_buf_init. */
void np_buf_fini(np_buf *b);
/* np_buf_reserve makes room for n more bytes; NP_ERR_TOO_LARGE past the cap. */
np_err np_buf_reserve(np_buf *b, size_t n);
np_err np_buf_append(np_buf *b, const void *p, size_t n);
np_err np_buf_puts(np_buf *b, const char *s);
np_err np_buf_printf(np_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
np_err np_buf_vprintf(np_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* np_buf_json_str appends s (n bytes) as a quoted JSON string, escaping as needed. */
np_err np_buf_json_str(np_buf *b, const char *s, size_t n);
/* np_buf_take hands the data to the caller (free() it) and resets the buffer. */
char *np_buf_take(np_buf *b, size_t *len);
void np_buf_reset(np_buf *b);

#endif
