//===- ggml_blocks.cpp - llama.cpp's tensor types as bytes -----------------===//
#include "xfmr/import/ggml_blocks.h"

#include "xfmr/io/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace xfmr::io;

namespace {
float halfAt(const uint8_t *q) {
  float d;
  halfToFloat(q, &d, 1);
  return d;
}

/// Q4_K's 6-bit scale and min of group j (get_scale_min_k4 of ggml-quants.c).
void q4KScaleMin(const uint8_t *scales, int j, uint8_t *sc, uint8_t *m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = uint8_t((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = uint8_t((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

/// Q6_K: byte of ql and shift of the low nibble, byte of qh and shift of the
/// high pair, for element e of a super-block (the inverse of
/// dequantize_row_q6_K's loop: half n, quarter q, lane l).
struct Q6KPlace {
  int ql, qlShift, qh, qhShift;
};
Q6KPlace q6KPlace(int e) {
  const int n = e / 128, r = e % 128, q = r / 32, l = r % 32;
  return {n * 64 + l + (q % 2) * 32, (q / 2) * 4, 128 + n * 32 + l, 2 * q};
}

/// dequantize_row_q4_K of ggml-quants.c, in the same float operations.
void dequantizeQ4K(const uint8_t *b, float *y) {
  const float d = halfAt(b), dmin = halfAt(b + 2);
  const uint8_t *scales = b + 4, *q = b + 16;
  auto scaleMin = [&](int j, uint8_t *sc, uint8_t *m) { q4KScaleMin(scales, j, sc, m); };
  for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
    uint8_t sc, m;
    scaleMin(is, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    scaleMin(is + 1, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * float(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * float(q[l] >> 4) - m2;
  }
}

/// dequantize_row_q6_K of ggml-quants.c.
void dequantizeQ6K(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
  const float d = halfAt(b + 208);
  for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * float(sc[is]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
}
} // namespace

bool xfmr::io::ggmlTypeIsRead(uint32_t type) {
  switch (GGMLType(type)) {
  case GGMLType::F32: case GGMLType::F16: case GGMLType::BF16:
  case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q4_K: case GGMLType::Q6_K:
    return true;
  default:
    return false;
  }
}

std::vector<float> xfmr::io::dequantizeGGML(const uint8_t *p, size_t n, GGMLType type) {
  std::vector<float> out(n);
  switch (type) {
  case GGMLType::F32:
    std::memcpy(out.data(), p, n * 4);
    break;
  case GGMLType::F16:
    halfToFloat(p, out.data(), n);
    break;
  case GGMLType::BF16:
    bf16ToFloat(p, out.data(), n);
    break;
  case GGMLType::Q8_0:
  case GGMLType::Q4_0: {
    // d q and d (q - 8): an f16 times a small integer, exact in f32 however
    // it is evaluated, so the stored groups' own map gives ggml's values.
    const QuantScheme scheme = *ggmlStoredScheme(type);
    QuantGroup q;
    for (size_t g = 0; g < n / 32; ++g) {
      ggmlStoredGroup(p, int64_t(g), type, q);
      for (size_t i = 0; i < 32; ++i)
        out[g * 32 + i] = dequantizeCode(q, i, scheme);
    }
    break;
  }
  case GGMLType::Q4_K:
    for (size_t b = 0; b < n / 256; ++b, p += 144)
      dequantizeQ4K(p, out.data() + b * 256);
    break;
  case GGMLType::Q6_K:
    for (size_t b = 0; b < n / 256; ++b, p += 210)
      dequantizeQ6K(p, out.data() + b * 256);
    break;
  default:
    break; // refused at open
  }
  return out;
}

std::optional<QuantScheme> xfmr::io::ggmlStoredScheme(GGMLType type) {
  switch (type) {
  case GGMLType::Q8_0:
    return QuantScheme{WeightFormat::Int8, 32, true, false};
  case GGMLType::Q4_0:
    return QuantScheme{WeightFormat::Int4, 32, true, false};
  case GGMLType::Q4_K:
    return q4KScheme();
  case GGMLType::Q6_K:
    return q6KScheme();
  default:
    return std::nullopt;
  }
}

void xfmr::io::ggmlStoredGroup(const uint8_t *row, int64_t g, GGMLType type, QuantGroup &out) {
  if (type == GGMLType::Q4_K) { // 8 groups of 32 per 144-byte super-block
    const uint8_t *b = row + (g / 8) * 144;
    const int j = int(g % 8);
    uint8_t sc, m;
    q4KScaleMin(b + 4, j, &sc, &m);
    out.superScale = halfAt(b);
    out.superMin = halfAt(b + 2);
    out.scaleCode = sc;
    out.minCode = m;
    out.scale = out.superScale * float(sc); // as dequantize_row_q4_K: d1, m1
    out.min = -(out.superMin * float(m));
    out.codes.resize(32);
    const uint8_t *q = b + 16 + (j / 2) * 32; // 64 values per 32 bytes: low, then high nibbles
    for (int l = 0; l < 32; ++l)
      out.codes[size_t(l)] = int8_t((q[l] >> (4 * (j % 2))) & 0xF);
    return;
  }
  if (type == GGMLType::Q6_K) { // 16 groups of 16 per 210-byte super-block
    const uint8_t *b = row + (g / 16) * 210;
    const int j = int(g % 16);
    out.superScale = halfAt(b + 208);
    out.superMin = 0;
    out.scaleCode = int8_t(b[192 + j]);
    out.minCode = 0;
    out.scale = out.superScale * float(out.scaleCode);
    out.min = -32 * out.scale;
    out.codes.resize(16);
    for (int l = 0; l < 16; ++l) {
      Q6KPlace p = q6KPlace(16 * j + l);
      out.codes[size_t(l)] =
          int8_t(((b[p.ql] >> p.qlShift) & 0xF) | (((b[p.qh] >> p.qhShift) & 3) << 4));
    }
    return;
  }
  const bool q8 = type == GGMLType::Q8_0;
  const uint8_t *p = row + g * (q8 ? 34 : 18);
  out.scale = halfAt(p);
  out.codes.resize(32);
  if (q8) { // {f16 d, i8 q[32]}: d q
    for (int i = 0; i < 32; ++i)
      out.codes[size_t(i)] = int8_t(p[2 + i]);
    out.min = 0;
  } else { // {f16 d, u8 q[16]}: low nibbles 0..15, high 16..31, d (q - 8)
    for (int i = 0; i < 16; ++i) {
      out.codes[size_t(i)] = int8_t(p[2 + i] & 15);
      out.codes[size_t(16 + i)] = int8_t(p[2 + i] >> 4);
    }
    out.min = -8 * out.scale;
  }
}

bool xfmr::io::encodeGGML(const std::vector<float> &x, GGMLType type,
                          std::vector<uint8_t> *outp) {
  std::vector<uint8_t> &out = *outp;
  out.clear();
  auto putHalf = [&](float v) {
    uint16_t h = floatToHalf(v);
    out.push_back(uint8_t(h));
    out.push_back(uint8_t(h >> 8));
  };
  switch (type) {
  case GGMLType::F32:
    out.resize(x.size() * 4);
    std::memcpy(out.data(), x.data(), out.size());
    return true;
  case GGMLType::F16:
    for (float v : x)
      putHalf(v);
    return true;
  case GGMLType::Q8_0: // d = max|x| / 127, q = round(x / d)
    for (size_t b = 0; b < x.size(); b += 32) {
      float amax = 0;
      for (size_t i = b; i < b + 32; ++i)
        amax = std::max(amax, std::fabs(x[i]));
      float d = amax / 127, id = d ? 1 / d : 0;
      putHalf(d);
      for (size_t i = b; i < b + 32; ++i)
        out.push_back(uint8_t(int8_t(std::lround(x[i] * id))));
    }
    return true;
  case GGMLType::Q4_0: // d = m / -8 for the value m of largest magnitude
    for (size_t b = 0; b < x.size(); b += 32) {
      float amax = 0, m = 0;
      for (size_t i = b; i < b + 32; ++i)
        if (std::fabs(x[i]) > amax) {
          amax = std::fabs(x[i]);
          m = x[i];
        }
      float d = m / -8, id = d ? 1 / d : 0;
      putHalf(d);
      for (size_t i = 0; i < 16; ++i) {
        int lo = std::min(15, int(x[b + i] * id + 8.5f));
        int hi = std::min(15, int(x[b + 16 + i] * id + 8.5f));
        out.push_back(uint8_t(lo | (hi << 4)));
      }
    }
    return true;
  case GGMLType::Q4_K:
  case GGMLType::Q6_K: {
    // The groups xfmr's quantizer makes (quantize.h), laid out as the
    // dequantizers above read them.
    const bool q4 = type == GGMLType::Q4_K;
    const QuantScheme s = q4 ? q4KScheme() : q6KScheme();
    for (size_t b = 0; b < x.size(); b += 256) {
      std::vector<QuantGroup> gs = quantizeRun(x.data() + b, 256, 1, s);
      uint8_t blk[210] = {};
      if (q4) {
        uint16_t d = floatToHalf(gs[0].superScale), dmin = floatToHalf(gs[0].superMin);
        std::memcpy(blk, &d, 2);
        std::memcpy(blk + 2, &dmin, 2);
        uint8_t *sc = blk + 4;
        for (int j = 0; j < 4; ++j) {
          const int s0 = gs[size_t(j)].scaleCode, m0 = gs[size_t(j)].minCode;
          const int s1 = gs[size_t(j + 4)].scaleCode, m1 = gs[size_t(j + 4)].minCode;
          sc[j] = uint8_t(s0 | ((s1 >> 4) << 6));
          sc[j + 4] = uint8_t(m0 | ((m1 >> 4) << 6));
          sc[j + 8] = uint8_t((s1 & 0xF) | ((m1 & 0xF) << 4));
        }
        for (int j = 0; j < 8; ++j)
          for (int l = 0; l < 32; ++l)
            blk[16 + (j / 2) * 32 + l] |= uint8_t(gs[size_t(j)].codes[size_t(l)] << (4 * (j % 2)));
        out.insert(out.end(), blk, blk + 144);
      } else {
        for (int e = 0; e < 256; ++e) {
          const int c = gs[size_t(e / 16)].codes[size_t(e % 16)];
          Q6KPlace p = q6KPlace(e);
          blk[p.ql] |= uint8_t((c & 0xF) << p.qlShift);
          blk[p.qh] |= uint8_t((c >> 4) << p.qhShift);
        }
        for (int j = 0; j < 16; ++j)
          blk[192 + j] = uint8_t(int8_t(gs[size_t(j)].scaleCode));
        uint16_t d = floatToHalf(gs[0].superScale);
        std::memcpy(blk + 208, &d, 2);
        out.insert(out.end(), blk, blk + 210);
      }
    }
    return true;
  }
  default:
    return false;
  }
}
