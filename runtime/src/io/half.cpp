// f16 and bf16 <-> f32, bit exact: round to nearest even, NaN kept NaN,
// f16 subnormals handled. Shared by the weight packer, the quantizer, the
// KV cache rounding and the model readers, so all of them round alike.
#include "xfmr/io/half.h"

#include <cstring>

using namespace xfmr::io;

float xfmr::io::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1F,
           mant = h & 0x3FF, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void xfmr::io::halfToFloat(const void *in, float *out, size_t n) {
  const auto *p = static_cast<const uint8_t *>(in);
  // Exponent and mantissa shifted into place and rebiased; infinities and
  // NaNs rebiased once more to exponent 255; subnormals (exponent 0) made
  // normal by one more exponent step and taking 2^-14 off exactly.
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    uint32_t bits = uint32_t(h & 0x7FFF) << 13;
    uint32_t exp = bits & 0x0F800000u;
    bits += (127 - 15) << 23;
    bits += exp == 0x0F800000u ? (128 - 16) << 23 : 0;
    float f, sub;
    uint32_t subBits = bits + (1u << 23);
    std::memcpy(&f, &bits, 4);
    std::memcpy(&sub, &subBits, 4);
    const float twoMinus14 = 6.103515625e-05f; // 2^-14
    f = exp == 0 ? sub - twoMinus14 : f;
    uint32_t r;
    std::memcpy(&r, &f, 4);
    r |= uint32_t(h & 0x8000) << 16;
    std::memcpy(out + i, &r, 4);
  }
}

void xfmr::io::bf16ToFloat(const void *in, float *out, size_t n) {
  const auto *p = static_cast<const uint8_t *>(in);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    uint32_t bits = uint32_t(h) << 16;
    std::memcpy(out + i, &bits, 4);
  }
}

float xfmr::io::bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t xfmr::io::floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7FFFFFFF) > 0x7F800000) // NaN stays NaN
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1); // round to nearest even
  return uint16_t(bits >> 16);
}

uint16_t xfmr::io::floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  int32_t exp = int32_t((bits >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = bits & 0x7FFFFF;
  if (((bits >> 23) & 0xFF) == 0xFF) // inf or NaN
    return uint16_t(sign | 0x7C00 | (mant ? 0x200 : 0));
  if (exp >= 31)
    return uint16_t(sign | 0x7C00);
  if (exp <= 0) { // subnormal or zero
    if (exp < -10)
      return uint16_t(sign);
    mant |= 0x800000;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1),
             mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | (uint32_t(exp) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, which is still correct
  return uint16_t(half);
}
