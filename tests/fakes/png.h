/* Builds tiny valid PNG images whose colours follow a seed, standing in for generated art. */
#ifndef FAKE_PNG_H
#define FAKE_PNG_H

#include "buf.h"

#define PNG_SIDE 8

/* png_build: appends an 8x8 RGB PNG derived from seed to out; false if out is full. */
bool png_build(struct buf *out, uint32_t seed);

#endif
