/* JSON-lines logging to stderr. Every line names the service and, when there is one, the
 * request id it concerns. Never pass a token or a secret in a log line. */
#ifndef NP_LOG_H
#define NP_LOG_H

#include <stddef.h>

typedef enum { NP_LOG_DEBUG, NP_LOG_INFO, NP_LOG_WARN, NP_LOG_ERROR } np_log_level;

/* np_log_setup sets the process-wide minimum level ("debug", "info", "warn", "error"). */
void np_log_setup(const char *level);
/* np_log_write writes one line {"ts","level","svc","rid"?,"msg"}; svc and rid may be NULL. */
void np_log_write(np_log_level lvl, const char *svc, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* np_log_redact rewrites, in place, every token-shaped run in s (len bytes): "pst-" or "np-"
 * (not preceded by a letter or digit) and at least NP_LOG_TOKEN_MIN more letters, digits, '_'
 * or '-' become "pst-[redacted]" / "np-[redacted]". Returns the new length (never longer)
 * and sets *found to how many were rewritten (found may be NULL). Every log line goes
 * through it; audit events too, so a credential under any field name is not stored. */
#define NP_LOG_TOKEN_MIN 16
size_t np_log_redact(char *s, size_t len, int *found);

#define np_log_debug(svc, ...) np_log_write(NP_LOG_DEBUG, svc, NULL, __VA_ARGS__)
#define np_log_info(svc, ...) np_log_write(NP_LOG_INFO, svc, NULL, __VA_ARGS__)
#define np_log_warn(svc, ...) np_log_write(NP_LOG_WARN, svc, NULL, __VA_ARGS__)
#define np_log_error(svc, ...) np_log_write(NP_LOG_ERROR, svc, NULL, __VA_ARGS__)

#endif
