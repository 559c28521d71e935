/* NovelAI's Anlas price of an image request (NOVELAI.md, "When an image costs Anlas"). */
#include "cost.h"

#include <math.h>

int64_t
cost_sample(const struct image_cost_input *in)
{
    double r = (double)in->width * in->height;
    if (r < 65536) {
        r = 65536;
    }
    double c = ceil(2.951823174884865e-6 * r + 5.753298233447344e-7 * r * in->steps);
    if (in->smea_dyn) {
        c *= 1.4;
    } else if (in->smea) {
        c *= 1.2;
    }
    c = ceil(c * in->strength);
    if (c < 2) {
        c = 2;
    }
    if (in->v5) {
        c = ceil(c * 1.5);
    }
    return (int64_t)c;
}

bool
cost_first_sample_free(const struct token *tok, const struct image_cost_input *in)
{
    return tok->active && tok->tier == 3 && in->steps <= 28 &&
           (uint64_t)in->width * in->height <= 1048576 && !(in->v5 && tok->v5_negative);
}

void
cost_use_v5_allowance(struct token *tok, const struct image_cost_input *in)
{
    if (in->v5 && tok->v5_allowance > 0 && cost_first_sample_free(tok, in)) {
        tok->v5_allowance--;
        tok->v5_negative = tok->v5_allowance == 0;
    }
}

int64_t
cost_image(const struct token *tok, const struct image_cost_input *in)
{
    int64_t per = cost_sample(in);
    int64_t billed = in->n_samples;
    if (billed > 0 && cost_first_sample_free(tok, in)) {
        billed--;
    }
    int64_t vibes = !in->v3 && in->vibes > 4 ? (int64_t)(in->vibes - 4) * 2 : 0;
    return billed * per + (int64_t)in->refs * 5 * in->n_samples + vibes +
           (int64_t)in->raw_vibes * 2;
}
