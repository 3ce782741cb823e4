#include "xfmr/io/quantize.h"
#include "xfmr/io/half.h"

#include <algorithm>
#include <cmath>

using namespace xfmr::io;

namespace {
float roundScale(float s, bool f16) {
  return f16 ? halfToFloat(floatToHalf(s)) : s;
}
} // namespace

QuantGroup xfmr::io::quantizeGroup(const float *x, int64_t n, int64_t stride,
                                   const QuantScheme &scheme) {
  if (stride != 1) { // contiguous first: the loops below then vectorize
    std::vector<float> c(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      c[size_t(i)] = x[i * stride];
    return quantizeGroup(c.data(), n, 1, scheme);
  }
  QuantGroup g;
  g.codes.resize(size_t(n));
  if (scheme.format == WeightFormat::Int8 ||
      (scheme.format == WeightFormat::Int4 && !scheme.zeroPoint)) {
    // Symmetric. int8: codes in [-127, 127]. int4: codes c in [0, 15] stand
    // for c - 8 in [-8, 7]; the scale maps max|w| to 7 (or -8 when the
    // largest magnitude is negative, to use the extra code).
    float amax = 0, signedMax = 0;
    for (int64_t i = 0; i < n; ++i)
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        signedMax = x[i];
      }
    bool int8 = scheme.format == WeightFormat::Int8;
    float d = int8 ? 127.f : (signedMax < 0 ? 8.f : 7.f);
    g.scale = roundScale(amax / d, scheme.f16Scales);
    float inv = g.scale > 0 ? 1.f / g.scale : 0.f;
    for (int64_t i = 0; i < n; ++i) {
      float q = std::nearbyint(x[i] * inv);
      if (int8)
        g.codes[size_t(i)] = int8_t(std::clamp(q, -127.f, 127.f));
      else
        g.codes[size_t(i)] = int8_t(std::clamp(q, -8.f, 7.f) + 8.f);
    }
    g.min = int8 ? 0.f : -8.f * g.scale;
    return g;
  }
  // Asymmetric int4: [lo, hi] onto codes 0..15.
  float lo = x[0], hi = x[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  g.scale = roundScale((hi - lo) / 15.f, scheme.f16Scales);
  g.min = roundScale(lo, scheme.f16Scales);
  float inv = g.scale > 0 ? 1.f / g.scale : 0.f;
  for (int64_t i = 0; i < n; ++i)
    g.codes[size_t(i)] =
        int8_t(std::clamp(std::nearbyint((x[i] - g.min) * inv), 0.f, 15.f));
  return g;
}

void xfmr::io::roundInt8(float *x, int64_t n) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  float inv = amax > 0 ? 127.f / amax : 0.f, s = amax / 127.f;
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::nearbyint(x[i] * inv) * s;
}

void xfmr::io::fakeQuantize(std::vector<float> &w, int64_t rows, int64_t cols,
                            bool reductionIsRows, const QuantScheme &s) {
  if (s.format == WeightFormat::F32)
    return;
  if (s.format == WeightFormat::BF16) {
    for (float &v : w)
      v = bf16ToFloat(floatToBF16(v));
    return;
  }
  int64_t channels = reductionIsRows ? cols : rows;
  int64_t length = reductionIsRows ? rows : cols;
  int64_t stride = reductionIsRows ? cols : 1;
  int64_t group = s.group ? s.group : length;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t g0 = 0; g0 < length; g0 += group) {
      float *base = w.data() + (reductionIsRows ? g0 * cols + c : c * cols + g0);
      QuantGroup q = quantizeGroup(base, group, stride, s);
      for (int64_t i = 0; i < group; ++i)
        base[i * stride] = float(q.codes[size_t(i)]) * q.scale + q.min;
    }
}
