/* fake-novelai: a local stand-in for NovelAI's API that enforces its account rules, for tests
 * and benchmarks of the relay. Listens on 127.0.0.1 unless --bind names another IPv4 address of
 * this machine (scripts/deploy-test: the address of the containers' bridge), on one event-loop
 * thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <h2o.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "routes.h"

#define MAX_REQUEST_BODY (64u << 20)

struct fake_handler {
    h2o_handler_t super;
    struct fake *fake;
};

/* Kept static so that H2O's connection state, still live at exit, stays reachable. */
static struct {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    struct fake fake;
} app;

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
    return fake_handle(((struct fake_handler *)self)->fake, req);
}

static void
on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL) {
        return;
    }
    /* Drain a burst of connections per wake-up, as H2O's own server does. */
    for (int i = 0; i < 64; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            return;
        }
        h2o_accept(&app.accept_ctx, sock);
    }
}

/* Opens the listening socket on ip:port (0 = any free port); returns the fd or -1. */
static int
listen_on(struct in_addr ip, unsigned port, unsigned *bound)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof(addr);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    addr.sin_addr = ip;
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        if (fd != -1) {
            close(fd);
        }
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

/* Writes the port to path atomically (tmp file, then rename), so readers never see half. */
static int
write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        return -1;
    }
    FILE *fp = fopen(tmp, "w");
    if (fp == NULL) {
        return -1;
    }
    int ok = fprintf(fp, "%u\n", port) > 0;
    ok = fclose(fp) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: fake-novelai --port N --tokens FILE [--bind IPV4] [--latency-ms N] "
            "[--event-delay-ms N] [--port-file PATH]\n"
            "  --port 0 picks a free port; --bind defaults to 127.0.0.1 (never a wildcard).\n");
}

static bool
parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-') {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {
        {"port", required_argument, NULL, 'p'},
        {"tokens", required_argument, NULL, 't'},
        {"latency-ms", required_argument, NULL, 'l'},
        {"event-delay-ms", required_argument, NULL, 'e'},
        {"port-file", required_argument, NULL, 'f'},
        {"bind", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned port = 0, latency = 0, event_delay = 0;
    bool have_port = false;
    const char *tokens_path = NULL, *port_file = NULL;
    struct in_addr ip = {.s_addr = htonl(INADDR_LOOPBACK)};
    int opt;

    while ((opt = getopt_long(argc, argv, "p:t:l:e:f:b:h", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'p':
            ok = parse_uint(optarg, 65535, &port);
            have_port = true;
            break;
        case 't': tokens_path = optarg; break;
        case 'l': ok = parse_uint(optarg, 600000, &latency); break;
        case 'e': ok = parse_uint(optarg, 600000, &event_delay); break;
        case 'f': port_file = optarg; break;
        case 'b':
            /* One address, dotted quad; the wildcard would expose a test server on every
             * interface, so it is refused. */
            ok = inet_pton(AF_INET, optarg, &ip) == 1 && ip.s_addr != htonl(INADDR_ANY);
            break;
        case 'h': usage(stdout); return 0;
        default: ok = false;
        }
        if (!ok) {
            usage(stderr);
            return 2;
        }
    }
    if (!have_port || tokens_path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&app.config);
    app.config.max_request_entity_size = MAX_REQUEST_BODY;
    h2o_hostconf_t *host =
        h2o_config_register_host(&app.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    struct fake_handler *handler = (void *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->fake = &app.fake;

    h2o_context_init(&app.ctx, h2o_evloop_create(), &app.config);
    app.accept_ctx.ctx = &app.ctx;
    app.accept_ctx.hosts = app.config.hosts;
    fake_init(&app.fake, app.ctx.loop, latency, event_delay);

    char err[512];
    if (!tokens_load_file(&app.fake.tokens, tokens_path, err, sizeof(err))) {
        fprintf(stderr, "fake-novelai: %s\n", err);
        return 1;
    }
    char shown[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip, shown, sizeof(shown));
    unsigned bound;
    int fd = listen_on(ip, port, &bound);
    if (fd == -1) {
        fprintf(stderr, "fake-novelai: cannot listen on %s:%u: %s\n", shown, port, strerror(errno));
        return 1;
    }
    h2o_socket_t *listener = h2o_evloop_socket_create(app.ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
    if (port_file != NULL && write_port_file(port_file, bound) != 0) {
        fprintf(stderr, "fake-novelai: cannot write %s: %s\n", port_file, strerror(errno));
        return 1;
    }
    printf("fake-novelai listening on %s:%u\n", shown, bound);
    fflush(stdout);

    /* A short wait bound lets the loop notice the stop flag set by the signal handler. */
    while (!stop_requested) {
        h2o_evloop_run(app.ctx.loop, 100);
    }

    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    fake_fini(&app.fake);
    /* Connections still open belong to H2O 2.2.5, which cannot close them from outside; the
     * context and loop stay allocated (and reachable) until the process exits. */
    return 0;
}
