/* Parameterised SELECT building. */
#include "sql.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
audit_sql_init(audit_sql *q)
{
    memset(q, 0, sizeof(*q));
    np_buf_init(&q->text, 16384);
}

void
audit_sql_fini(audit_sql *q)
{
    np_buf_fini(&q->text);
}

int
audit_sql_int(audit_sql *q, int64_t v)
{
    assert(q->n < AUDIT_SQL_PARAMS_MAX);
    snprintf(q->ints[q->n], sizeof(q->ints[q->n]), "%lld", (long long)v);
    q->v[q->n] = q->ints[q->n];
    return ++q->n;
}

int
audit_sql_str(audit_sql *q, const char *s)
{
    assert(q->n < AUDIT_SQL_PARAMS_MAX);
    q->v[q->n] = s;
    return ++q->n;
}

void
audit_sql_add(audit_sql *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    np_buf_vprintf(&q->text, fmt, ap);
    va_end(ap);
}
