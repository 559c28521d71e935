/* A test producer: emits N relay.finished events through np_events (settings from the
 * environment: EVENTS_URL, ACKS_URL, EVENTS_*, INTERNAL_SECRET), printing progress, then waits
 * until audit has acknowledged every one. Exit 0 when all were acknowledged and none dropped.
 * Usage: event-producer COUNT [EVENTS_PER_TICK [TICK_MS [USER_BASE]]] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>

#include "np/events.h"
#include "np/log.h"
#include "np/wire_mac.h"

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: event-producer COUNT [PER_TICK [TICK_MS [USER_BASE]]]\n");
        return 2;
    }
    long count = strtol(argv[1], NULL, 10);
    long per_tick = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    int tick_ms = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 10;
    long user_base = argc > 4 ? strtol(argv[4], NULL, 10) : 1;
    static const np_cfg_table *const tables[] = {&np_common_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[512];
    if (cfg == NULL || np_config_load(cfg, NULL, why, sizeof(why)) != NP_ERR_OK) {
        fprintf(stderr, "event-producer: %s\n", why);
        return 2;
    }
    np_log_setup("warn");
    /* Speak like a service: seal every message when INTERNAL_SECRET is given. */
    np_settings *snap = np_config_acquire(cfg);
    const char *secret = np_settings_common(snap)->INTERNAL_SECRET;
    bool unusable = secret[0] != '\0' && np_wire_auth_setup(secret) != NP_ERR_OK;
    np_settings_release(snap);
    if (unusable) {
        fprintf(stderr, "event-producer: INTERNAL_SECRET unusable\n");
        return 2;
    }
    np_events *ev = NULL;
    if (np_events_open(&ev, "testprod", cfg) != NP_ERR_OK) {
        fprintf(stderr, "event-producer: cannot open the producer\n");
        return 2;
    }
    printf("producer %s\n", np_events_producer_id(ev));
    fflush(stdout);
    for (long i = 1; i <= count; i++) {
        json_t *f = json_pack(
            "{s:I, s:I, s:I, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:s}", "user_id",
            (json_int_t)(user_base + i % 5), "relay_key_id", (json_int_t)(i % 7 + 1),
            "upstream_key_id", (json_int_t)(i % 3 + 1), "route", "/ai/generate-image", "model",
            "nai-diffusion-4-5-full", "width", 832, "height", 1216, "steps", 28, "n_samples", 1,
            "status", i % 10 == 0 ? 429 : 200, "latency_ms", (json_int_t)i, "request_id", "test");
        np_events_emit(ev, "relay.finished", f);
        if (i % per_tick == 0) {
            sleep_ms(tick_ms);
        }
        if (i % 1000 == 0) {
            printf("emitted %ld\n", i);
            fflush(stdout);
        }
    }
    np_events_stats st;
    for (int i = 0; i < 1200; i++) {
        np_events_stats_read(ev, &st);
        if (st.depth == 0) {
            break;
        }
        sleep_ms(100);
    }
    np_events_stats_read(ev, &st);
    printf("done emitted=%llu dropped=%llu sent=%llu resent=%llu acked=%llu depth=%llu\n",
           (unsigned long long)st.emitted, (unsigned long long)st.dropped,
           (unsigned long long)st.sent, (unsigned long long)st.resent, (unsigned long long)st.acked,
           (unsigned long long)st.depth);
    fflush(stdout);
    int code = st.depth == 0 && st.dropped == 0 && st.emitted == (uint64_t)count ? 0 : 1;
    np_events_close(ev);
    np_config_free(cfg);
    nng_fini(); /* lets NNG free what its pipes still held before the process ends */
    return code;
}
