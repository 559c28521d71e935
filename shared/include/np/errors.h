/* The error enum generated from errors.def, with its HTTP status, wire code and message. */
#ifndef NP_ERRORS_H
#define NP_ERRORS_H

typedef enum {
#define X(name, status, code, msg) NP_ERR_##name,
#include "np/errors.def"
#undef X
    NP_ERR__COUNT
} np_err;

/* np_err_status returns the HTTP status an error maps to (500 for unknown values). */
int np_err_status(np_err err);
/* np_err_code returns the machine code ("rate_limited") of the HTTP error shape. */
const char *np_err_code(np_err err);
/* np_err_message returns the default human sentence for an error. */
const char *np_err_message(np_err err);
/* np_err_from_code maps a wire code back to an error; NP_ERR_INTERNAL when unknown. */
np_err np_err_from_code(const char *code);
/* np_err_from_nng translates an NNG error once, at the boundary. */
np_err np_err_from_nng(int rv);

#endif
