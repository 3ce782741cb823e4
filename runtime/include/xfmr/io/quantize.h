// The numerics of xfmr's weight formats, shared by the compiler (which packs
// quantized weights into the compiled model) and the reference executor
// (which runs the same quantize-dequantize in float64), so the two agree on
// every rounding.
//
//   bf16:  w ~ bf16(w), round to nearest even.
//   int8:  per output channel: s = r(max|w| / 127), q = round(w / s) in
//          [-127, 127], w ~ q s (r: rounding to the scale type, f16 or f32).
//   int4:  per group of G reduction elements, codes c in [0, 15]:
//          symmetric:  s = r(max|w| / 7), or / 8 when the largest magnitude
//                      is negative; w ~ (c - 8) s.
//          zero point: s = r((max - min) / 15), m = r(min); w ~ c s + m.
//   super-blocks (llama.cpp's K-quants): the groups' scales (and mins) are
//   small integers times one f16 scale (and one f16 min) per `superBlock`
//   values of the reduction:
//     int4, groups of 32, zero point (Q4_K): 6-bit sc_j and m_j per group,
//          w = (d sc_j) c - (dmin m_j), c in [0, 15];
//     int6, groups of 16 (Q6_K): int8 sc_j per group, w = (d sc_j)(c - 32),
//          c in [0, 63].
#ifndef XFMR_IO_QUANTIZE_H
#define XFMR_IO_QUANTIZE_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xfmr::io {

enum class WeightFormat { F32, BF16, Int8, Int4, Int6 };

struct QuantScheme {
  WeightFormat format = WeightFormat::F32;
  int64_t group = 0;      // int4: elements per scale along the reduction
  bool f16Scales = true;  // scales stored as f16 (else f32)
  bool zeroPoint = false; // int4: asymmetric groups
  int64_t superBlock = 0; // K-quants: values per super-block (256), else 0
};

/// One quantized group: codes and the affine map back, w ~ code * scale + min.
/// int8 codes are in [-127, 127] (min = 0); int4 codes in [0, 15]; int6
/// codes in [0, 63] (min = -32 scale). In a super-block scheme the scale and
/// min are superScale * scaleCode and -(superMin * minCode), which the
/// packer stores as those parts.
struct QuantGroup {
  std::vector<int8_t> codes;
  float scale = 0, min = 0;
  float superScale = 0, superMin = 0;
  int scaleCode = 0, minCode = 0;
};

/// Whether two schemes store the same numbers the same way.
inline bool sameScheme(const QuantScheme &a, const QuantScheme &b) {
  return a.format == b.format && a.group == b.group && a.f16Scales == b.f16Scales &&
         a.zeroPoint == b.zeroPoint && a.superBlock == b.superBlock;
}

/// The scheme of llama.cpp's Q4_K / Q6_K blocks.
inline QuantScheme q4KScheme() { return {WeightFormat::Int4, 32, true, true, 256}; }
inline QuantScheme q6KScheme() { return {WeightFormat::Int6, 16, true, false, 256}; }

/// The value code `i` of group `q` stands for, in the float operations
/// llama.cpp's dequantizers use (so a file's values come out bit for bit).
inline float dequantizeCode(const QuantGroup &q, size_t i, const QuantScheme &s) {
  if (s.format == WeightFormat::Int6)
    return q.scale * float(q.codes[i] - 32);
  return float(q.codes[i]) * q.scale + q.min;
}

/// Quantizes the n values of one reduction run (a channel) read at x[0],
/// x[stride], ... into its groups (one for a scale per channel); super-block
/// schemes share their scales' scale across each super-block.
std::vector<QuantGroup> quantizeRun(const float *x, int64_t n, int64_t stride,
                                    const QuantScheme &scheme);

/// Quantizes n values read at x[0], x[stride], ... (one group or channel;
/// not a super-block scheme's: quantizeRun).
QuantGroup quantizeGroup(const float *x, int64_t n, int64_t stride,
                         const QuantScheme &scheme);

/// Rounds n values as the kernels store or multiply them in int8 with one
/// scale: s = max|x| / 127, x ~ roundeven(x * (127 / max|x|)) s, in f32
/// arithmetic (int8 KV cache head vectors; VNNI activations per block of 32).
void roundInt8(float *x, int64_t n);

/// Replaces an [rows, cols] row-major matrix by its quantize-dequantize.
/// `reductionIsRows`: the reduction runs down the rows (a [K, N] linear
/// weight, one channel per column); else along each row ([V, D] tables).
void fakeQuantize(std::vector<float> &w, int64_t rows, int64_t cols,
                  bool reductionIsRows, const QuantScheme &scheme);

} // namespace xfmr::io

#endif
