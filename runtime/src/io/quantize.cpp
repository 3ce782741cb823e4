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

namespace {
/// One super-block of a K-quant scheme (n = superBlock values, contiguous):
/// each group's own scale (and min), then those as integer multiples of
/// the super-block's f16 scale (and min), then the codes against the
/// scales as stored. (llama.cpp searches scales more carefully; any
/// choice is a valid block, and the error bound is the tests'.)
void quantizeSuperBlock(const float *x, const QuantScheme &s, QuantGroup *out) {
  const int64_t G = s.group, groups = s.superBlock / G;
  const bool q4 = s.format == WeightFormat::Int4;
  std::vector<float> scale(static_cast<size_t>(groups)), minv(static_cast<size_t>(groups));
  float maxScale = 0, maxMin = 0;
  for (int64_t g = 0; g < groups; ++g) {
    const float *v = x + g * G;
    if (q4) { // [lo, hi] onto codes 0..15 with lo <= 0: w = s c - m, m >= 0
      float lo = 0, hi = v[0];
      for (int64_t i = 0; i < G; ++i) {
        lo = std::min(lo, v[i]);
        hi = std::max(hi, v[i]);
      }
      scale[size_t(g)] = std::max(hi - lo, 0.f) / 15.f;
      minv[size_t(g)] = -lo;
    } else { // the value of largest magnitude onto code -32: s = m / -32
      float amax = 0, m = 0;
      for (int64_t i = 0; i < G; ++i)
        if (std::fabs(v[i]) > amax) {
          amax = std::fabs(v[i]);
          m = v[i];
        }
      scale[size_t(g)] = m / -32.f;
    }
    maxScale = std::max(maxScale, std::fabs(scale[size_t(g)]));
    maxMin = std::max(maxMin, minv[size_t(g)]);
  }
  const float codeMax = q4 ? 63.f : 127.f;
  const float d = roundScale(maxScale / codeMax, true), dmin = roundScale(maxMin / 63.f, true);
  for (int64_t g = 0; g < groups; ++g) {
    QuantGroup &q = out[g];
    const float *v = x + g * G;
    q.superScale = d;
    q.superMin = q4 ? dmin : 0;
    q.scaleCode = d > 0 ? int(std::clamp(std::nearbyint(scale[size_t(g)] / d),
                                         q4 ? 0.f : -128.f, codeMax))
                        : 0;
    q.minCode = q4 && dmin > 0 ? int(std::clamp(std::nearbyint(minv[size_t(g)] / dmin), 0.f, 63.f))
                               : 0;
    q.scale = d * float(q.scaleCode);
    q.min = q4 ? -(dmin * float(q.minCode)) : -32.f * q.scale;
    const float inv = q.scale != 0 ? 1.f / q.scale : 0.f;
    q.codes.resize(size_t(G));
    for (int64_t i = 0; i < G; ++i)
      q.codes[size_t(i)] =
          q4 ? int8_t(std::clamp(std::nearbyint((v[i] - q.min) * inv), 0.f, 15.f))
             : int8_t(std::clamp(std::nearbyint(v[i] * inv), -32.f, 31.f) + 32.f);
  }
}
} // namespace

std::vector<QuantGroup> xfmr::io::quantizeRun(const float *x, int64_t n, int64_t stride,
                                              const QuantScheme &s) {
  std::vector<float> c;
  if (stride != 1) {
    c.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i)
      c[size_t(i)] = x[i * stride];
    x = c.data();
  }
  const int64_t G = s.group ? s.group : n;
  std::vector<QuantGroup> out(size_t(n / G));
  if (s.superBlock) {
    for (int64_t b = 0; b < n / s.superBlock; ++b)
      quantizeSuperBlock(x + b * s.superBlock, s, out.data() + b * (s.superBlock / G));
    for (QuantGroup &q : out) // a partial super-block (verifiers refuse one): zero codes
      q.codes.resize(size_t(G));
    return out;
  }
  for (int64_t g = 0; g < n / G; ++g)
    out[size_t(g)] = quantizeGroup(x + g * G, G, 1, s);
  return out;
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
  for (int64_t c = 0; c < channels; ++c) {
    float *base = w.data() + (reductionIsRows ? c : c * cols);
    std::vector<QuantGroup> run = quantizeRun(base, length, stride, s);
    for (int64_t i = 0; i < length; ++i)
      base[i * stride] = dequantizeCode(run[size_t(i / group)], size_t(i % group), s);
  }
}
