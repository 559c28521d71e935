/* The replay driver of every fuzz target built without libFuzzer (<name>_fuzz_replay, run by
 * ctest under ASan and UBSan in `make test`): each seed file of the corpus directory as it is,
 * then a deterministic stream of mutations of the seeds (byte flips, special bytes, cuts,
 * repeated slices, tokens inserted, the tail of another seed spliced on). A target may define
 * np_fuzz_tokens, a NULL-terminated list of byte strings its reader cares about; every input
 * is given to LLVMFuzzerTestOneInput through a buffer of its exact size, so ASan sees
 * overreads. Usage: <target> ROUNDS CORPUS_DIR. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_SEEDS 256
#define REPLAY_MAX_INPUT (64u << 10)

typedef struct {
    uint8_t *data;
    size_t len;
} seed;

/* xorshift: a fixed seed keeps the replay deterministic. */
static uint64_t
next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int
load(const char *dir, seed *seeds)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "cannot open the corpus %s\n", dir);
        return -1;
    }
    int n = 0;
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
        seeds[n++] = (seed){buf, len};
    }
    closedir(d);
    return n;
}

/* run hands len bytes of buf to the target through a copy of exactly that size. */
static void
run(const uint8_t *buf, size_t len)
{
    uint8_t *exact = malloc(len + 1);
    if (exact == NULL) {
        abort();
    }
    memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
}

/* insert puts n bytes at `at` of buf (len bytes, room for 2 * REPLAY_MAX_INPUT); the new length. */
static size_t
insert(uint8_t *buf, size_t len, size_t at, const void *bytes, size_t n)
{
    if (len + n > 2 * REPLAY_MAX_INPUT) {
        return len;
    }
    memmove(buf + at + n, buf + at, len - at);
    memmove(buf + at, bytes, n); /* bytes may be buf's own (a repeated slice) */
    return len + n;
}

/* mutate makes one variant of seed a in buf (room for 2 * REPLAY_MAX_INPUT) and returns its size.
 */
static size_t
mutate(uint64_t *rng, const seed *seeds, int n, const seed *a, uint8_t *buf, int ntok)
{
    static const uint8_t special[] = {0, '\r', '\n', '%', '=', '"', '\\', '.', 0xff, 0x80, ' '};
    size_t len = a->len;
    memcpy(buf, a->data, len);
    int edits = 1 + (int)(next(rng) % 4);
    for (int e = 0; e < edits; e++) {
        size_t at = len > 0 ? (size_t)(next(rng) % (len + 1)) : 0;
        switch (next(rng) % 6) {
        case 0: /* a random byte */
            if (at < len) {
                buf[at] = (uint8_t)next(rng);
            }
            break;
        case 1: /* a byte the readers care about */
            if (at < len) {
                buf[at] = special[next(rng) % sizeof(special)];
            }
            break;
        case 2: /* cut the end */ len = at; break;
        case 3: /* repeat a slice */
            if (at < len) {
                size_t n_ = (size_t)(next(rng) % (len - at)) + 1;
                len = insert(buf, len, at, buf + at, n_);
            }
            break;
        case 4: /* one of the target's tokens */
            if (ntok > 0) {
                const char *t = np_fuzz_tokens[next(rng) % (uint64_t)ntok];
                len = insert(buf, len, at, t, strlen(t));
            }
            break;
        default: { /* the tail of another seed spliced on */
            const seed *b = &seeds[next(rng) % (uint64_t)n];
            size_t from = b->len > 0 ? (size_t)(next(rng) % b->len) : 0;
            if (at + b->len - from <= 2 * REPLAY_MAX_INPUT) {
                memcpy(buf + at, b->data + from, b->len - from);
                len = at + b->len - from;
            }
            break;
        }
        }
    }
    return len;
}

int
main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    seed seeds[REPLAY_MAX_SEEDS];
    int n = argc > 2 ? load(argv[2], seeds) : 0;
    if (n <= 0 || rounds < 0) {
        fprintf(stderr, "usage: %s ROUNDS CORPUS_DIR (a directory with seed files)\n", argv[0]);
        return 2;
    }
    int ntok = 0;
    while (np_fuzz_tokens != NULL && np_fuzz_tokens[ntok] != NULL) {
        ntok++;
    }
    uint8_t *buf = malloc(2 * REPLAY_MAX_INPUT);
    if (buf == NULL) {
        return 1;
    }
    for (int i = 0; i < n; i++) {
        run(seeds[i].data, seeds[i].len);
    }
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    for (long r = 0; r < rounds; r++) {
        const seed *a = &seeds[next(&rng) % (uint64_t)n];
        run(buf, mutate(&rng, seeds, n, a, buf, ntok));
    }
    free(buf);
    for (int i = 0; i < n; i++) {
        free(seeds[i].data);
    }
    printf("%s: %d seeds and %ld mutations run without a fault\n", argv[0], n, rounds);
    return 0;
}
