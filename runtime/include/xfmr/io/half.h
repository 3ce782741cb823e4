// f16 and bf16 conversions (round to nearest even), the one definition every
// part of xfmr rounds with.
#ifndef XFMR_IO_HALF_H
#define XFMR_IO_HALF_H

#include <cstddef>
#include <cstdint>

namespace xfmr::io {

float halfToFloat(uint16_t h);
float bf16ToFloat(uint16_t h);
uint16_t floatToHalf(float f);
uint16_t floatToBF16(float f);

/// n values at once, equal to halfToFloat / bf16ToFloat element by element
/// (branch-free, so the loops vectorize: a 1B-parameter checkpoint is two
/// billion of them). `in` may be unaligned.
void halfToFloat(const void *in, float *out, size_t n);
void bf16ToFloat(const void *in, float *out, size_t n);

} // namespace xfmr::io

#endif
