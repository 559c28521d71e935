/* JSON-lines logging to stderr. Every line names the service and, when there is one, the
 * request id it concerns. Never pass a token or a secret in a log line. */
#ifndef NP_LOG_H
#define NP_LOG_H

typedef enum { NP_LOG_DEBUG, NP_LOG_INFO, NP_LOG_WARN, NP_LOG_ERROR } np_log_level;

/* np_log_setup sets the process-wide minimum level ("debug", "info", "warn", "error"). */
void np_log_setup(const char *level);
/* np_log_write writes one line {"ts","level","svc","rid"?,"msg"}; svc and rid may be NULL. */
void np_log_write(np_log_level lvl, const char *svc, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define np_log_debug(svc, ...) np_log_write(NP_LOG_DEBUG, svc, NULL, __VA_ARGS__)
#define np_log_info(svc, ...) np_log_write(NP_LOG_INFO, svc, NULL, __VA_ARGS__)
#define np_log_warn(svc, ...) np_log_write(NP_LOG_WARN, svc, NULL, __VA_ARGS__)
#define np_log_error(svc, ...) np_log_write(NP_LOG_ERROR, svc, NULL, __VA_ARGS__)

#endif
