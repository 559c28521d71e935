/* The replay driver of the fuzz targets built without libFuzzer: every file of the seed
 * corpus directory given, then each of them mutated with a seeded generator (flipped, cut
 * and repeated bytes) for the rounds asked, so `make test` runs every target under ASan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED_MAX (64u << 10)

static uint64_t
next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t
read_seed(const char *dir, const char *name, uint8_t *out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(out, 1, SEED_MAX, f);
    fclose(f);
    return n;
}

/* mutate changes a copy of seed in place (buf has room for 2 * SEED_MAX) and returns its size. */
static size_t
mutate(uint64_t *rng, const uint8_t *seed, size_t n, uint8_t *buf)
{
    memcpy(buf, seed, n);
    int edits = 1 + (int)(next(rng) % 4);
    for (int e = 0; e < edits; e++) {
        size_t at = n ? (size_t)(next(rng) % n) : 0;
        switch (next(rng) % 4) {
        case 0: /* flip a byte */
            if (n) {
                buf[at] ^= (uint8_t)(1u << (next(rng) % 8));
            }
            break;
        case 1: /* cut the end */ n = at; break;
        case 2: /* an interesting byte */
            if (n) {
                static const uint8_t special[] = {0, '\r', '\n', '%', '=', '"', '.', 0xff, ' '};
                buf[at] = special[next(rng) % sizeof(special)];
            }
            break;
        default: /* repeat a slice */
            if (n && n < SEED_MAX) {
                size_t len = (size_t)(next(rng) % (n - at)) + 1;
                if (len > SEED_MAX - n) {
                    len = SEED_MAX - n;
                }
                memmove(buf + at + len, buf + at, n - at);
                n += len;
            }
            break;
        }
    }
    return n;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [ROUNDS]\n", argv[0]);
        return 2;
    }
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        fprintf(stderr, "%s: cannot open the corpus %s\n", argv[0], argv[1]);
        return 2;
    }
    uint8_t *seed = malloc(SEED_MAX), *buf = malloc(2 * SEED_MAX);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int seeds = 0;
    long runs = 0;
    struct dirent *e;
    while (seed != NULL && buf != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        size_t n = read_seed(argv[1], e->d_name, seed);
        seeds++;
        LLVMFuzzerTestOneInput(seed, n);
        for (long r = 0; r < rounds; r++, runs++) {
            size_t m = mutate(&rng, seed, n, buf);
            LLVMFuzzerTestOneInput(buf, m);
        }
    }
    closedir(d);
    free(seed);
    free(buf);
    printf("%s: %d seeds, %ld mutated runs\n", argv[0], seeds, runs);
    return seeds > 0 ? 0 : 1;
}
