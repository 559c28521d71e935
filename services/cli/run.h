/* Running services until SIGINT or SIGTERM: start in dependency order, stop in reverse. */
#ifndef CLI_RUN_H
#define CLI_RUN_H

#include "np/config.h"

enum {
    CLI_AUDIT = 1 << 0,
    CLI_AUTH = 1 << 1,
    CLI_POOL = 1 << 2,
    CLI_HEALTH = 1 << 3,
    CLI_GATEWAY = 1 << 4,
    CLI_ALL = 0x1f,
};

/* cli_run starts the services in mask, waits for a stop signal and stops them. Returns the
 * process exit code. */
int cli_run(np_config *cfg, unsigned mask);

#endif
