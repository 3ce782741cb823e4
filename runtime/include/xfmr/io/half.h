// f16 and bf16 conversions (round to nearest even), the one definition every
// part of xfmr rounds with.
#ifndef XFMR_IO_HALF_H
#define XFMR_IO_HALF_H

#include <cstdint>

namespace xfmr::io {

float halfToFloat(uint16_t h);
float bf16ToFloat(uint16_t h);
uint16_t floatToHalf(float f);
uint16_t floatToBF16(float f);

} // namespace xfmr::io

#endif
