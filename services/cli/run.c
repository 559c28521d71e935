/* Running services until a stop signal. */
#include "run.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "gateway/gateway.h"
#include "health/health.h"
#include "memtune.h"
#include "np/log.h"
#include "pool/pool.h"

int
cli_run(np_config *cfg, unsigned mask)
{
    char why[512] = "";
    np_err err = NP_ERR_OK;
    audit_service *audit = NULL;
    auth_service *auth = NULL;
    pool_service *pool = NULL;
    health_service *health = NULL;
    gw_gateway *gw = NULL;

    if (err == NP_ERR_OK && (mask & CLI_AUDIT)) {
        err = audit_start(&audit, cfg, why, sizeof(why));
    }
    /* Each service starts after those it calls (auth asks pool for a user's figures), so
     * over inproc its first dial finds the listener instead of a reconnect back-off. */
    if (err == NP_ERR_OK && (mask & CLI_POOL)) {
        err = pool_start(&pool, cfg, why, sizeof(why));
    }
    if (err == NP_ERR_OK && (mask & CLI_AUTH)) {
        err = auth_start(&auth, cfg, why, sizeof(why));
    }
    if (err == NP_ERR_OK && (mask & CLI_HEALTH)) {
        err = health_start(&health, cfg, why, sizeof(why));
    }
    if (err == NP_ERR_OK && (mask & CLI_GATEWAY)) {
        err = gw_start(&gw, cfg, why, sizeof(why));
    }
    int code = 0;
    if (err != NP_ERR_OK) {
        fprintf(stderr, "naipool: %s\n", why[0] ? why : np_err_message(err));
        code = 1;
    } else {
        if (gw != NULL) {
            /* One plain line for people, besides the JSON log. */
            fprintf(stdout, "NovelAI Pool is serving http://127.0.0.1:%d/\n", gw_port(gw));
            fflush(stdout);
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        /* Waits for the signal, giving free memory back every CLI_TRIM_SECONDS meanwhile. */
        int sig = -1;
        while (sig < 0) {
            struct timespec t = {CLI_TRIM_SECONDS, 0};
            sig = sigtimedwait(&set, NULL, &t);
            if (sig < 0) {
                cli_malloc_trim();
            }
        }
        np_log_info("naipool", "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    gw_stop(gw);
    health_stop(health);
    auth_stop(auth);
    pool_stop(pool);
    audit_stop(audit);
    return code;
}
