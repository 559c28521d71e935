/* NovelAI's Anlas price of an image request (NOVELAI.md, "When an image costs Anlas"). */
#ifndef FAKE_COST_H
#define FAKE_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "tokens.h"

struct image_cost_input {
    unsigned width, height, steps, n_samples;
    bool smea, smea_dyn;
    bool v5;         /* nai-diffusion-5-* */
    double strength; /* img2img/infill strength; 1.0 for plain generation */
    unsigned refs;   /* character / precise references, 5 Anlas each per sample */
    unsigned vibes;  /* vibe transfer images (plain and cached); V4+ bills each beyond the 4th 2 */
    bool v3;         /* nai-diffusion-3 / furry-3: vibes carry no surcharge */
    unsigned raw_vibes; /* vibes sent as images, not encodings: each is encoded (2 Anlas) */
};

/* cost_sample: the billed price of one sample, before any free allowance. */
int64_t cost_sample(const struct image_cost_input *in);
/* cost_first_sample_free: whether the account gets the first sample for free ("Opus free"). */
bool cost_first_sample_free(const struct token *tok, const struct image_cost_input *in);
/* cost_image: what the whole request costs this account (extras included). */
int64_t cost_image(const struct token *tok, const struct image_cost_input *in);
/* cost_use_v5_allowance: a V5 image served free spends one image of a counted allowance;
 * the last one makes usage.isNegative true (NovelAI then bills V5 images silently). */
void cost_use_v5_allowance(struct token *tok, const struct image_cost_input *in);

#endif
