/* Writes the seed corpus of relaymsg_fuzz: one file per message of the relay contract, each
 * made by its writer (np/relaymsg.h). Usage: relaymsg_seeds DIR (tests/fuzz/corpus/relaymsg);
 * run it again when the contract changes. */
#include <stdio.h>
#include <string.h>

#include "np/relaymsg.h"

static int
save(const char *dir, const char *name, np_wire_writer *w)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(w->sbuf.data, 1, w->sbuf.size, f) == w->sbuf.size;
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    np_wire_writer_fini(w);
    np_wire_writer_init(w);
    if (!ok) {
        fprintf(stderr, "cannot write %s\n", path);
    }
    return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int bad = 0;
    np_wire_writer w;
    np_wire_writer_init(&w);

    static const char body[] = "{\"input\":\"a cat\",\"model\":\"nai-diffusion-4-5-full\"}";
    np_relay_open o = {
        .method = "POST",
        .method_len = 4,
        .path = "/ai/generate-image",
        .path_len = 18,
        .query = "",
        .body = body,
        .body_len = sizeof(body) - 1,
        .user_id = 7,
        .relay_key_id = 3,
    };
    snprintf(o.ip, sizeof(o.ip), "203.0.113.9");
    snprintf(o.rid, sizeof(o.rid), "7f3a9c2e1b4d5a6f");
    snprintf(o.role, sizeof(o.role), "user");
    np_relay_open_add_header(&o, NP_RELAY_REQH_CONTENT_TYPE, "application/json", 16);
    np_relay_open_add_header(&o, NP_RELAY_REQH_ACCEPT, "*/*", 3);
    np_relay_open_add_header(&o, NP_RELAY_REQH_CORRELATION_ID, "corr-1", 6);
    np_relay_open_add_header(&o, NP_RELAY_REQH_INITIATED_AT, "2026-12-03T15:00:00Z", 20);
    np_relay_open_write(&w, &o);
    bad += save(dir, "open_image", &w);

    np_relay_open g = {
        .method = "GET",
        .method_len = 3,
        .path = "/ai/generate-voice",
        .path_len = 18,
        .query = "text=hello%20there&voice=-1&seed=Aini&opus=false&version=v2",
        .user_id = 2,
    };
    g.query_len = strlen(g.query);
    snprintf(g.ip, sizeof(g.ip), "::1");
    snprintf(g.rid, sizeof(g.rid), "r2");
    snprintf(g.role, sizeof(g.role), "admin");
    np_relay_open_write(&w, &g);
    bad += save(dir, "open_voice", &w);

    np_relay_chunk first = {
        .status = 200, .data = "data: {\"token\":\"a\"}\n\n", .more = true, .sid = 12};
    first.len = strlen(first.data);
    np_relay_chunk_add_header(&first, NP_RELAY_RESH_CONTENT_TYPE, "text/event-stream");
    np_relay_chunk_add_header(&first, NP_RELAY_RESH_RATELIMIT_LIMIT, "1000");
    np_relay_chunk_add_header(&first, NP_RELAY_RESH_RATELIMIT_REMAINING, "999");
    np_relay_chunk_add_header(&first, NP_RELAY_RESH_RATELIMIT_RESET, "60");
    np_relay_chunk_write(&w, &first, true);
    bad += save(dir, "answer_stream", &w);

    np_relay_chunk whole = {.status = 200, .data = "\x50\x4b\x03\x04zip", .len = 7};
    np_relay_chunk_add_header(&whole, NP_RELAY_RESH_CONTENT_TYPE, "application/x-zip-compressed");
    np_relay_chunk_add_header(&whole, NP_RELAY_RESH_CONTENT_DISPOSITION,
                              "attachment; filename=\"image.zip\"");
    np_relay_chunk_add_header(&whole, NP_RELAY_RESH_CONTENT_ENCODING, "identity");
    np_relay_chunk_write(&w, &whole, true);
    bad += save(dir, "answer_whole", &w);

    static const char why[] = "rate limit of 3 requests per minute reached";
    np_relay_chunk refused = {
        .err = NP_ERR_RATE_LIMITED, .message = why, .message_len = sizeof(why) - 1};
    np_relay_chunk_add_header(&refused, NP_RELAY_RESH_RETRY_AFTER, "42");
    np_relay_chunk_add_header(&refused, NP_RELAY_RESH_RATELIMIT_LIMIT, "3");
    np_relay_chunk_write(&w, &refused, true);
    bad += save(dir, "answer_refused", &w);

    np_relay_chunk next = {.data = "data: {\"token\":\"b\"}\n\n", .more = false};
    next.len = strlen(next.data);
    np_relay_chunk_write(&w, &next, false);
    bad += save(dir, "next_answer", &w);

    np_relay_chunk broke = {.err = NP_ERR_UPSTREAM};
    np_relay_chunk_write(&w, &broke, false);
    bad += save(dir, "next_error", &w);

    np_relay_sid s = {.sid = 12};
    np_relay_next_write(&w, &s);
    bad += save(dir, "next", &w);
    np_relay_cancel_write(&w, &s);
    bad += save(dir, "cancel", &w);

    np_relay_abort a = {.user_id = 7};
    snprintf(a.rid, sizeof(a.rid), "7f3a9c2e1b4d5a6f");
    np_relay_abort_write(&w, &a);
    bad += save(dir, "abort", &w);

    np_relay_done_write(&w);
    bad += save(dir, "done", &w);
    np_wire_writer_fini(&w);
    return bad ? 1 : 0;
}
