/* NP_STATIC: file-local in the libraries the binary links; with NP_TESTING (the testing build
 * of each service library, naipool_<svc>_testing, which the unit tests beside the code link) it
 * has external linkage, so a test reaches the function itself. Declare such a function in its
 * module's header inside #ifdef NP_TESTING; nothing outside tests may call it. */
#ifndef NP_TESTING_H
#define NP_TESTING_H

#ifdef NP_TESTING
#define NP_STATIC
#else
#define NP_STATIC static
#endif

#endif
