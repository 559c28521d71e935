/* Building a parameterised SELECT piece by piece: the text grows with placeholders ($n)
 * while the values go to a parameter array, so no value ever enters the SQL text. */
#ifndef AUDIT_SQL_H
#define AUDIT_SQL_H

#include <stdint.h>

#include "np/buf.h"

#define AUDIT_SQL_PARAMS_MAX 16

/* An expression turning parameter $n (microseconds since the epoch) into a timestamptz. */
#define AUDIT_SQL_TS "('epoch'::timestamptz + $%d::bigint * interval '1 microsecond')"

typedef struct {
    np_buf text;
    const char *v[AUDIT_SQL_PARAMS_MAX];
    char ints[AUDIT_SQL_PARAMS_MAX][24];
    int n;
} audit_sql;

void audit_sql_init(audit_sql *q);
void audit_sql_fini(audit_sql *q);
/* audit_sql_int adds an integer parameter and returns its number (for "$%d"). */
int audit_sql_int(audit_sql *q, int64_t v);
/* audit_sql_str adds a text parameter (borrowed: s must outlive the query). */
int audit_sql_str(audit_sql *q, const char *s);
/* audit_sql_add appends SQL text (never a value from outside). */
void audit_sql_add(audit_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
