/* The account routes the pool answers itself, in NovelAI's live shapes (NOVELAI.md, "Account
 * routes clients read"): GET /user/subscription, /user/data, /user/priority and
 * /user/information through /v1/novelai. They are synthesized, never read from a key: a key's
 * own answers describe one contributor's private account (keystore, settings, e-mail state,
 * its Anlas), while a pool caller is served by whichever key is free. The pool's own figures
 * (the caller's remaining rate) are on GET /auth/me and in the X-RateLimit headers, never in
 * these bodies. */
#ifndef POOL_ACCOUNT_H
#define POOL_ACCOUNT_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

/* What the pool serves free (OPUS_MAX_PIXELS, OPUS_MAX_SAMPLES): shown as the Opus perk
 * perks.unlimitedImageGenerationLimits. */
typedef struct {
    int64_t pixels;
    int64_t samples;
} pool_account_free;

/* pool_account_answer: the body for path ("/user/subscription", "/user/data",
 * "/user/priority" or "/user/information") at time now: an active Opus account with exactly
 * the fields NovelAI sends, no others. A new reference; NULL for another path or without
 * memory. */
json_t *pool_account_answer(const char *path, time_t now, const pool_account_free *free_lim);

#endif
