/* naipool: one binary for every service and the operator's commands. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "np/crypto.h"
#include "np/pgboot.h"
#include "run.h"

static int
usage(void)
{
    fprintf(stderr,
            "usage: naipool COMMAND\n"
            "  all                       every service in one process (the default)\n"
            "  gateway|auth|pool|health|audit   one service; peers from configuration\n"
            "  keygen                    print a new ENCRYPTION_KEY\n"
            "  migrate                   apply database migrations and exit\n"
            "  config check              print the effective configuration (secrets masked)\n"
            "  pg start|stop DIR         run a private Postgres in DIR (tests use it)\n");
    return 2;
}

static int
keygen(void)
{
    uint8_t key[NP_KEY_LEN];
    np_buf out;
    np_buf_init(&out, 128);
    if (np_random_bytes(key, sizeof(key)) != NP_ERR_OK ||
        np_b64url_encode(key, sizeof(key), &out) != NP_ERR_OK) {
        fprintf(stderr, "naipool: cannot generate a key\n");
        return 1;
    }
    printf("%s\n", out.data);
    np_wipe(key, sizeof(key));
    np_wipe(out.data, out.len);
    np_buf_fini(&out);
    return 0;
}

/* private_pg starts or stops the private Postgres of dir, printing its URL on start. */
static int
private_pg(const char *verb, const char *dir)
{
    char why[512] = "", url[800];
    if (strcmp(verb, "start") == 0) {
        np_pgboot *pg = NULL;
        if (np_pgboot_start(&pg, dir, url, sizeof(url), why, sizeof(why)) != NP_ERR_OK) {
            fprintf(stderr, "naipool: %s\n", why);
            return 1;
        }
        printf("%s\n", url);
        free(pg); /* leave it running: `naipool pg stop DIR` stops it */
        return 0;
    }
    if (strcmp(verb, "stop") == 0) {
        if (np_pgboot_stop_dir(dir, why, sizeof(why)) != NP_ERR_OK) {
            fprintf(stderr, "naipool: %s\n", why);
            return 1;
        }
        return 0;
    }
    return usage();
}

static void
print_setting(void *arg, const np_cfg_spec *spec, const char *value, np_cfg_source src)
{
    (void)arg;
    static const char *const sources[] = {"default", "environment", "database"};
    printf("%-34s %-40s # %s; %s\n", spec->name, value[0] ? value : "(unset)", sources[src],
           spec->doc);
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "all";
    static const struct {
        const char *name;
        unsigned mask;
    } services[] = {{"all", CLI_ALL},         {"gateway", CLI_GATEWAY}, {"auth", CLI_AUTH},
                    {"pool", CLI_POOL},       {"health", CLI_HEALTH},   {"audit", CLI_AUDIT}};
    if (strcmp(cmd, "keygen") == 0) {
        return keygen();
    }
    if (strcmp(cmd, "pg") == 0) {
        return argc == 4 ? private_pg(argv[2], argv[3]) : usage();
    }
    /* Every thread started from here on inherits a blocked SIGINT/SIGTERM; the main thread
     * waits for them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    cli_boot b;
    if (!cli_boot_config(&b)) {
        cli_boot_fini(&b);
        return 2;
    }
    int code = 2;
    if (strcmp(cmd, "config") == 0 && argc > 2 && strcmp(argv[2], "check") == 0) {
        np_config_each(b.cfg, print_setting, NULL);
        code = 0;
    } else if (strcmp(cmd, "migrate") == 0) {
        code = cli_boot_prepare(&b, true, true) ? 0 : 1;
        if (code == 0) {
            printf("migrations applied\n");
        }
    } else {
        unsigned mask = 0;
        for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
            if (strcmp(cmd, services[i].name) == 0) {
                mask = services[i].mask;
            }
        }
        if (mask == 0) {
            code = usage();
        } else {
            bool need_db = mask != CLI_GATEWAY;
            if (mask == CLI_ALL) {
                cli_boot_inproc(&b);
            }
            code = cli_boot_prepare(&b, need_db, need_db) ? cli_run(b.cfg, mask) : 1;
        }
    }
    cli_boot_fini(&b);
    return code;
}
