/* The replay driver of a fuzz target (when it is not built for libFuzzer): feeds
 * LLVMFuzzerTestOneInput every seed file of a corpus directory, then a deterministic stream
 * of mutations of those seeds (byte flips, truncations, splices of one seed into another,
 * insertions of tokens the readers care about), so every test run exercises the target under
 * ASan and UBSan. Usage: <target> ROUNDS CORPUS_DIR. Included once, by the target's file. */
#ifndef NP_FUZZ_REPLAY_H
#define NP_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MAX_SEEDS 256
#define REPLAY_MAX_INPUT 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint8_t *data;
    size_t len;
} replay_seed;

/* xorshift: a fixed seed keeps the replay deterministic. */
static uint64_t
replay_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int
replay_load(const char *dir, replay_seed *seeds)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL) {
        fprintf(stderr, "cannot open corpus %s\n", dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < REPLAY_MAX_SEEDS) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }
        uint8_t *buf = malloc(REPLAY_MAX_INPUT);
        size_t len = buf != NULL ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
        fclose(f);
        if (buf == NULL) {
            break;
        }
        seeds[n].data = buf;
        seeds[n].len = len;
        n++;
    }
    closedir(d);
    return n;
}

static int
replay_main(int argc, char **argv, const char *const *tokens)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    replay_seed seeds[REPLAY_MAX_SEEDS];
    int n = argc > 2 ? replay_load(argv[2], seeds) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: %s ROUNDS CORPUS_DIR (a directory with seed files)\n", argv[0]);
        return 2;
    }
    int ntok = 0;
    while (tokens[ntok] != NULL) {
        ntok++;
    }
    uint8_t *buf = malloc(2 * REPLAY_MAX_INPUT);
    if (buf == NULL) {
        return 1;
    }
    for (int i = 0; i < n; i++) {
        /* each seed as it is, through a copy of its exact size so ASan sees overreads */
        uint8_t *exact = malloc(seeds[i].len + 1);
        memcpy(exact, seeds[i].data, seeds[i].len);
        LLVMFuzzerTestOneInput(exact, seeds[i].len);
        free(exact);
    }
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (long r = 0; r < rounds; r++) {
        const replay_seed *a = &seeds[replay_next(&s) % (uint64_t)n];
        size_t len = a->len;
        memcpy(buf, a->data, len);
        switch (replay_next(&s) % 4) {
        case 0: { /* byte flips */
            int flips = (int)(replay_next(&s) % 6) + 1;
            for (int f = 0; f < flips && len > 0; f++) {
                buf[replay_next(&s) % len] = (uint8_t)replay_next(&s);
            }
            break;
        }
        case 1: /* truncation */ len = len > 0 ? replay_next(&s) % (len + 1) : 0; break;
        case 2: { /* a token inserted somewhere */
            const char *t = tokens[replay_next(&s) % (uint64_t)ntok];
            size_t tl = strlen(t), at = len > 0 ? replay_next(&s) % (len + 1) : 0;
            if (len + tl <= REPLAY_MAX_INPUT) {
                memmove(buf + at + tl, buf + at, len - at);
                memcpy(buf + at, t, tl);
                len += tl;
            }
            break;
        }
        default: { /* the tail of another seed spliced on */
            const replay_seed *b = &seeds[replay_next(&s) % (uint64_t)n];
            size_t cut = len > 0 ? replay_next(&s) % (len + 1) : 0;
            size_t from = b->len > 0 ? replay_next(&s) % b->len : 0;
            size_t tail = b->len - from;
            if (cut + tail <= 2 * REPLAY_MAX_INPUT) {
                memcpy(buf + cut, b->data + from, tail);
                len = cut + tail;
            }
            break;
        }
        }
        uint8_t *exact = malloc(len + 1);
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    free(buf);
    for (int i = 0; i < n; i++) {
        free(seeds[i].data);
    }
    printf("%d seeds and %ld mutations run without a fault\n", n, rounds);
    return 0;
}

#endif
