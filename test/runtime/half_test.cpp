// The bulk f16/bf16 converters against the scalar ones, on every one of
// the 65536 bit patterns (subnormals, zeros, infinities, NaNs included),
// compared bit for bit, at an unaligned address as a checkpoint may hold.
#include "xfmr/io/half.h"

#include <gtest/gtest.h>

#include <cmath>

#include <cstring>
#include <vector>

namespace {
uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

TEST(HalfBulk, EqualsScalarOnEveryBitPattern) {
  std::vector<uint8_t> raw(2 * 65536 + 1);
  for (uint32_t h = 0; h < 65536; ++h) {
    uint16_t v = uint16_t(h);
    std::memcpy(raw.data() + 1 + 2 * h, &v, 2);
  }
  std::vector<float> f16(65536), bf16(65536);
  xfmr::io::halfToFloat(raw.data() + 1, f16.data(), f16.size());
  xfmr::io::bf16ToFloat(raw.data() + 1, bf16.data(), bf16.size());
  int wrong = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    wrong += bitsOf(f16[h]) != bitsOf(xfmr::io::halfToFloat(uint16_t(h)));
    wrong += bitsOf(bf16[h]) != bitsOf(xfmr::io::bf16ToFloat(uint16_t(h)));
  }
  EXPECT_EQ(wrong, 0);
  // Spot values, so the scalar reference is itself pinned.
  EXPECT_EQ(f16[0x3C00], 1.0f);
  EXPECT_EQ(f16[0x0001], 5.9604644775390625e-08f); // smallest subnormal, 2^-24
  EXPECT_EQ(f16[0x8000], -0.0f);
  EXPECT_TRUE(std::signbit(f16[0x8000]));
  EXPECT_EQ(f16[0x7C00], INFINITY);
  EXPECT_TRUE(std::isnan(f16[0x7E00]));
  EXPECT_EQ(bf16[0x3F80], 1.0f);
}
} // namespace
