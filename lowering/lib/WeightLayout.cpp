//===- WeightLayout.cpp - weight layouts and packing -----------------------===//
#include "xfmr/Lowering/WeightLayout.h"

#include "xfmr/IR/XfmrDialect.h"
#include "xfmr/io/half.h"
#include "llvm/Support/MathExtras.h"

#include <cstring>
#include <memory>

using namespace mlir;
using namespace mlir::xfmr;
using ::xfmr::io::QuantScheme;
using ::xfmr::io::QuantGroup;
using ::xfmr::io::WeightFormat;

int64_t WeightLayout::elementBytes() const {
  return scheme.format == WeightFormat::F32    ? 4
         : scheme.format == WeightFormat::BF16 ? 2
                                               : 0;
}

int64_t WeightLayout::superHeaderBytes() const {
  // Q4_K: d, dmin, 8 low and 4 high bytes of 6-bit sc/m; Q6_K: d, 16 sc.
  return scheme.format == WeightFormat::Int6 ? 18 : 16;
}

int64_t WeightLayout::superBytes() const {
  const int64_t lanes = kind == ColumnBlocks ? tileN : 1;
  return superHeaderBytes() * lanes + scheme.superBlock / scheme.group * groupBytes();
}

int64_t WeightLayout::groupBytes() const {
  const int64_t g = scheme.group;
  if (scheme.superBlock) // codes only: 4 or 6 bits a value
    return (kind == ColumnBlocks ? tileN : 1) *
           (scheme.format == WeightFormat::Int6 ? g * 3 / 4 : g / 2);
  const int64_t scales = scaleBytes() * (scheme.zeroPoint ? 2 : 1);
  const int64_t codes = scheme.format == WeightFormat::Int8 ? g : g / 2; // per lane
  if (kind == ColumnBlocks)
    return tileN * (scales + codes);
  return scales + codes;
}

int64_t WeightLayout::blockBytes() const {
  switch (scheme.format) {
  case WeightFormat::F32:
  case WeightFormat::BF16:
    return rows * tileN * elementBytes();
  case WeightFormat::Int8:
    if (!scheme.group)
      return tileN * scaleBytes() + rows * tileN;
    [[fallthrough]];
  case WeightFormat::Int4:
  case WeightFormat::Int6:
    if (scheme.superBlock)
      return rows / scheme.superBlock * superBytes();
    return rows / scheme.group * groupBytes();
  }
  return 0;
}

int64_t WeightLayout::sourceColumn(int64_t block, int64_t j) const {
  if (!gated)
    return block * tileN + j;
  const int64_t half = tileN / 2;
  return (j < half ? 0 : cols / 2) + block * half + j % half;
}

int64_t WeightLayout::rowBytes() const {
  int64_t raw = 0;
  switch (scheme.format) {
  case WeightFormat::F32:
  case WeightFormat::BF16:
    return cols * elementBytes();
  case WeightFormat::Int8:
    raw = scheme.group ? cols / scheme.group * groupBytes() : scaleBytes() + cols;
    break;
  case WeightFormat::Int4:
  case WeightFormat::Int6:
    raw = scheme.superBlock ? cols / scheme.superBlock * superBytes()
                            : cols / scheme.group * groupBytes();
    break;
  }
  return int64_t(llvm::alignTo(raw, 16));
}

int64_t WeightLayout::bytes() const {
  switch (kind) {
  case Dense:
    return rows * cols * 4;
  case ColumnBlocks:
    return cols / tileN * blockBytes();
  case Rows:
    return rows * rowBytes();
  }
  return 0;
}

std::string WeightLayout::describe() const {
  std::string f = scheme.format == WeightFormat::F32    ? "f32"
                  : scheme.format == WeightFormat::BF16 ? "bf16"
                  : scheme.format == WeightFormat::Int8
                      ? (scheme.group ? "int8g" + std::to_string(scheme.group) : "int8")
                  : scheme.format == WeightFormat::Int6 ? "int6g" + std::to_string(scheme.group)
                                                        : "int4g" + std::to_string(scheme.group);
  if (scheme.superBlock) // "q4k-..." would hide the numbers; these say them
    f += "s" + std::to_string(scheme.superBlock);
  else if (scheme.format == WeightFormat::Int8 || scheme.format == WeightFormat::Int4)
    f += scheme.f16Scales ? "-f16s" : "-f32s";
  if (scheme.zeroPoint)
    f += "-zp";
  if (dot)
    f += "-dot";
  if (gated)
    f += "-gated";
  if (kind == ColumnBlocks)
    f += "-cols" + std::to_string(tileN);
  else if (kind == Rows)
    f += "-rows";
  return f;
}

bool WeightLayout::operator==(const WeightLayout &o) const {
  return kind == o.kind && rows == o.rows && cols == o.cols &&
         tileN == o.tileN && dot == o.dot && gated == o.gated && scheme.format == o.scheme.format &&
         scheme.group == o.scheme.group &&
         scheme.f16Scales == o.scheme.f16Scales &&
         scheme.zeroPoint == o.scheme.zeroPoint && scheme.superBlock == o.scheme.superBlock;
}

QuantScheme mlir::xfmr::schemeOf(RankedTensorType type) {
  QuantScheme s;
  if (auto q = dyn_cast_or_null<QuantAttr>(type.getEncoding())) {
    s.format = q.getBits() == 8   ? WeightFormat::Int8
               : q.getBits() == 6 ? WeightFormat::Int6
                                  : WeightFormat::Int4;
    s.group = q.getGroup();
    s.f16Scales = q.getScale().isF16();
    s.zeroPoint = q.getZeroPoint();
    s.superBlock = q.getSuperBlock();
  } else if (type.getElementType().isBF16()) {
    s.format = WeightFormat::BF16;
  }
  return s;
}

WeightLayout mlir::xfmr::layoutOf(Operation *op, unsigned index) {
  WeightLayout l;
  auto type = dyn_cast<RankedTensorType>(op->getOperand(index).getType());
  if (!type || type.getRank() != 2 || !type.hasStaticShape())
    return l;
  l.rows = type.getDimSize(0);
  l.cols = type.getDimSize(1);
  l.scheme = schemeOf(type);
  if (isa<LinearOp>(op) && index == 1) {
    l.kind = WeightLayout::ColumnBlocks;
    auto s = op->getAttrOfType<ScheduleAttr>("schedule");
    l.tileN = s ? s.getTileN() : l.cols;
    l.dot = s && s.getDot() && l.scheme.format != WeightFormat::F32;
    l.gated = cast<LinearOp>(op).getGated();
  } else if (isa<LMHeadOp, EmbeddingOp>(op) && index == 1 &&
             l.scheme.format != WeightFormat::F32) {
    l.kind = WeightLayout::Rows;
  }
  return l;
}

namespace {
void putScale(uint8_t *p, float v, bool f16) {
  if (f16) {
    uint16_t h = ::xfmr::io::floatToHalf(v);
    std::memcpy(p, &h, 2);
  } else {
    std::memcpy(p, &v, 4);
  }
}

void putElement(uint8_t *p, float v, WeightFormat f) {
  if (f == WeightFormat::F32) {
    std::memcpy(p, &v, 4);
  } else {
    uint16_t h = ::xfmr::io::floatToBF16(v);
    std::memcpy(p, &h, 2);
  }
}
} // namespace

namespace {
/// Writes `n` codes of a group, code i at byte `at(i)` of `base` (int8: the
/// byte, offset by 128 for `unsignedInt8`; int4: the low or, for `high`,
/// the high nibble).
void putCodes(uint8_t *base, const int8_t *codes, int64_t n, WeightFormat f, bool unsignedInt8,
              llvm::function_ref<int64_t(int64_t)> at, bool high) {
  for (int64_t i = 0; i < n; ++i) {
    int c = codes[i];
    if (f == WeightFormat::Int8)
      base[at(i)] = uint8_t(unsignedInt8 ? c + 128 : c);
    else
      base[at(i)] |= high ? uint8_t((c & 0xF) << 4) : uint8_t(c & 0xF);
  }
}

/// The scale of one group (and its min, `minStride` bytes after it).
void putGroup(uint8_t *scales, int64_t minStride, const QuantGroup &q, const QuantScheme &s) {
  putScale(scales, q.scale, s.f16Scales);
  if (s.zeroPoint)
    putScale(scales + minStride, q.min, s.f16Scales);
}

/// A super-block group's header entries for lane `lane` of `lanes` (the
/// block's columns, or 1 for a row), group `gi` of its super-block.
void putSuperHeader(uint8_t *super, int64_t lanes, int64_t lane, int64_t gi,
                    const QuantGroup &q, const QuantScheme &s) {
  putScale(super + lane * 2, q.superScale, true);
  if (s.format == WeightFormat::Int6) { // d, sc[16]
    super[2 * lanes + gi * lanes + lane] = uint8_t(int8_t(q.scaleCode));
    return;
  }
  // Q4_K: d, dmin, lo[8], hi[4] (see WeightLayout.h).
  putScale(super + lanes * 2 + lane * 2, q.superMin, true);
  const int sc = q.scaleCode & 63, m = q.minCode & 63;
  super[4 * lanes + gi * lanes + lane] = uint8_t((sc & 15) | ((m & 15) << 4));
  super[12 * lanes + (gi % 4) * lanes + lane] |=
      uint8_t(((sc >> 4) | ((m >> 4) << 2)) << (4 * (gi / 4)));
}

/// Q6_K codes of one group: low nibbles as int4 codes at `lo(i)` (high
/// nibble for `high`), top bit pairs at bit `hiShift(i)` of byte `hi(i)`.
void putInt6Codes(uint8_t *base, const int8_t *codes, int64_t n,
                  llvm::function_ref<int64_t(int64_t)> lo, bool high,
                  llvm::function_ref<int64_t(int64_t)> hi,
                  llvm::function_ref<int64_t(int64_t)> hiShift) {
  for (int64_t i = 0; i < n; ++i) {
    const int c = codes[i] & 63;
    base[lo(i)] |= high ? uint8_t((c & 15) << 4) : uint8_t(c & 15);
    base[hi(i)] |= uint8_t((c >> 4) << hiShift(i));
  }
}

/// Float ColumnBlocks: element (k, n) of the logical [K, N] matrix at
/// column(n)[k * stride].
template <typename ColumnAt>
void packFloatColumns(const WeightLayout &l, ColumnAt column, int64_t stride,
                      std::vector<uint8_t> &out) {
  const int64_t K = l.rows, N = l.cols, tn = l.tileN;
  for (int64_t b = 0; b < N / tn; ++b) {
    uint8_t *block = out.data() + b * l.blockBytes();
    // Rows in order: a row-major source is read a row segment at a time.
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < tn; ++j) {
        // AVX512-BF16 pairs: [K/2][tn][2].
        int64_t at = l.dot ? ((k / 2) * tn + j) * 2 + k % 2 : k * tn + j;
        putElement(block + at * l.elementBytes(), column(l.sourceColumn(b, j))[k * stride],
                   l.scheme.format);
      }
  }
}

/// Quantized ColumnBlocks from their groups.
void packQuantizedColumns(const WeightLayout &l, const GroupSource &groups,
                          std::vector<uint8_t> &out) {
  const QuantScheme &s = l.scheme;
  const int64_t sb = l.scaleBytes(), tn = l.tileN, half = tn / 2;
  const bool int8 = s.format == WeightFormat::Int8;
  const int64_t G = s.group ? s.group : l.rows;
  // One group of one block: int8 per channel is one group at the block's
  // base; otherwise groupBytes() apart.
  const int64_t groupStride = s.group ? l.groupBytes() : 0;
  const int64_t perSuper = s.superBlock / G;
  QuantGroup q;
  for (int64_t b = 0; b < l.cols / tn; ++b) {
    uint8_t *block = out.data() + b * l.blockBytes();
    for (int64_t j = 0; j < tn; ++j) {
      const int64_t n = l.sourceColumn(b, j);
      for (int64_t g = 0; g < l.rows / G; ++g) {
        groups(n, g, q);
        q.codes.resize(size_t(G)); // a short source packs zeros, never reads past
        if (s.superBlock) {
          uint8_t *super = block + (g / perSuper) * l.superBytes();
          putSuperHeader(super, tn, j, g % perSuper, q, s);
          uint8_t *codes = super + tn * l.superHeaderBytes() + (g % perSuper) * groupStride;
          if (s.format == WeightFormat::Int4) // as int4 below
            putCodes(codes, q.codes.data(), G, s.format, false, [&](int64_t k) {
              return l.dot ? ((k / 4) * half + j % half) * 4 + k % 4 : k * half + j % half;
            }, j >= half);
          else
            putInt6Codes(
                codes, q.codes.data(), G, [&](int64_t k) { return k * half + j % half; },
                j >= half, [&](int64_t k) { return G * half + (k / 2) * half + j % half; },
                [&](int64_t k) { return 4 * (k % 2) + 2 * (j >= half); });
          continue;
        }
        uint8_t *grp = block + g * groupStride;
        putGroup(grp + j * sb, tn * sb, q, s);
        uint8_t *codes = grp + tn * sb * (s.zeroPoint ? 2 : 1);
        if (int8) // [G][tn] signed, or for VNNI [G/4][tn][4] unsigned
          putCodes(codes, q.codes.data(), G, s.format, l.dot, [&](int64_t k) {
            return l.dot ? ((k / 4) * tn + j) * 4 + k % 4 : k * tn + j;
          }, false);
        else // [G][tn/2], or for VNNI [G/4][tn/2][4]: four k per lane
          putCodes(codes, q.codes.data(), G, s.format, false, [&](int64_t k) {
            return l.dot ? ((k / 4) * half + j % half) * 4 + k % 4 : k * half + j % half;
          }, j >= half);
      }
    }
  }
}

/// Quantized Rows from their groups.
void packQuantizedRows(const WeightLayout &l, const GroupSource &groups,
                       std::vector<uint8_t> &out) {
  const QuantScheme &s = l.scheme;
  const int64_t sb = l.scaleBytes(), D = l.cols;
  const int64_t G = s.group ? s.group : D;
  const int64_t perSuper = s.superBlock / G;
  QuantGroup q;
  for (int64_t v = 0; v < l.rows; ++v) {
    uint8_t *row = out.data() + v * l.rowBytes();
    for (int64_t g = 0; g < D / G; ++g) {
      groups(v, g, q);
      q.codes.resize(size_t(G));
      if (s.superBlock) {
        uint8_t *super = row + (g / perSuper) * l.superBytes();
        putSuperHeader(super, 1, 0, g % perSuper, q, s);
        uint8_t *codes = super + l.superHeaderBytes() + (g % perSuper) * l.groupBytes();
        for (int hi = 0; hi < 2; ++hi) // byte i = element i | element i + G/2 << 4
          if (s.format == WeightFormat::Int4)
            putCodes(codes, q.codes.data() + hi * (G / 2), G / 2, s.format, false,
                     [](int64_t i) { return i; }, hi);
          else // then bytes G/2 + i: element i + 4p at bits 2p
            putInt6Codes(
                codes, q.codes.data() + hi * (G / 2), G / 2, [](int64_t i) { return i; }, hi,
                [&](int64_t i) { return G / 2 + (i + hi * G / 2) % 4; },
                [&](int64_t i) { return 2 * ((i + hi * G / 2) / 4); });
        continue;
      }
      uint8_t *grp = row + (s.group ? g * l.groupBytes() : 0);
      putGroup(grp, sb, q, s);
      uint8_t *codes = grp + sb * (s.zeroPoint ? 2 : 1);
      if (s.format == WeightFormat::Int8) // unsigned, ready for vpdpbusd
        putCodes(codes, q.codes.data(), G, s.format, true, [](int64_t i) { return i; }, false);
      else // byte i = element i | element i + G/2 << 4
        for (int hi = 0; hi < 2; ++hi)
          putCodes(codes, q.codes.data() + hi * (G / 2), G / 2, s.format, false,
                   [](int64_t i) { return i; }, hi);
    }
  }
}

bool quantized(const WeightLayout &l) {
  return l.scheme.format == WeightFormat::Int8 || l.scheme.format == WeightFormat::Int4 ||
         l.scheme.format == WeightFormat::Int6;
}

/// The groups of channel `c` of a matrix whose channel c runs at
/// w + c length, quantized here a channel at a time (super-block scales
/// span a channel's groups; the packers ask for a channel's groups in
/// order).
GroupSource quantizingChannels(const float *w, int64_t length, const QuantScheme &s) {
  auto cached = std::make_shared<std::pair<int64_t, std::vector<QuantGroup>>>(
      int64_t(-1), std::vector<QuantGroup>{});
  return [w, length, s, cached](int64_t c, int64_t g, QuantGroup &q) {
    if (cached->first != c)
      *cached = {c, ::xfmr::io::quantizeRun(w + c * length, length, 1, s)};
    q = cached->second[size_t(g)];
  };
}

GroupSource quantizingColumns(const float *w, const WeightLayout &l) {
  return quantizingChannels(w, l.rows, l.scheme);
}
} // namespace

std::vector<uint8_t> mlir::xfmr::packQuantizedWeight(const GroupSource &groups,
                                                     const WeightLayout &l) {
  std::vector<uint8_t> out(size_t(l.bytes()), 0);
  if (l.kind == WeightLayout::ColumnBlocks)
    packQuantizedColumns(l, groups, out);
  else
    packQuantizedRows(l, groups, out);
  return out;
}

std::vector<uint8_t> mlir::xfmr::packColumnMajorWeight(const float *w,
                                                       const WeightLayout &l) {
  if (l.kind != WeightLayout::ColumnBlocks) { // row-major for the others
    std::vector<float> rowMajor(size_t(l.rows * l.cols));
    for (int64_t n = 0; n < l.cols; ++n)
      for (int64_t k = 0; k < l.rows; ++k)
        rowMajor[size_t(k * l.cols + n)] = w[n * l.rows + k];
    return packWeight(rowMajor, l);
  }
  if (quantized(l))
    return packQuantizedWeight(quantizingColumns(w, l), l);
  std::vector<uint8_t> out(size_t(l.bytes()), 0);
  packFloatColumns(
      l, [&](int64_t n) { return w + n * l.rows; }, 1, out);
  return out;
}

std::vector<uint8_t> mlir::xfmr::packWeight(const std::vector<float> &w,
                                      const WeightLayout &l) {
  std::vector<uint8_t> out(size_t(l.bytes()), 0);
  const QuantScheme &s = l.scheme;
  if (l.kind == WeightLayout::Dense) {
    std::memcpy(out.data(), w.data(), out.size());
    return out;
  }
  if (l.kind == WeightLayout::ColumnBlocks) {
    if (quantized(l)) { // each column one stream: column-major first
      std::vector<float> columns(size_t(l.rows * l.cols));
      constexpr int64_t B = 32; // in blocks: a column read is a cache line per element
      for (int64_t k0 = 0; k0 < l.rows; k0 += B)
        for (int64_t n0 = 0; n0 < l.cols; n0 += B)
          for (int64_t k = k0; k < std::min(l.rows, k0 + B); ++k)
            for (int64_t n = n0; n < std::min(l.cols, n0 + B); ++n)
              columns[size_t(n * l.rows + k)] = w[size_t(k * l.cols + n)];
      return packQuantizedWeight(quantizingColumns(columns.data(), l), l);
    }
    packFloatColumns(
        l, [&](int64_t n) { return w.data() + n; }, l.cols, out);
    return out;
  }
  // Rows.
  const int64_t D = l.cols;
  if (quantized(l)) {
    return packQuantizedWeight(quantizingChannels(w.data(), D, s), l);
  }
  for (int64_t v = 0; v < l.rows; ++v)
    for (int64_t d = 0; d < D; ++d)
      putElement(out.data() + v * l.rowBytes() + d * l.elementBytes(), w[size_t(v * D + d)],
                 s.format);
  return out;
}
