//===- WeightLayout.cpp - weight layouts and packing -----------------------===//
#include "xfmr/Lowering/WeightLayout.h"

#include "xfmr/IR/XfmrDialect.h"
#include "xfmr/io/half.h"
#include "llvm/Support/MathExtras.h"

#include <cstring>

using namespace mlir;
using namespace mlir::xfmr;
using ::xfmr::io::QuantScheme;
using ::xfmr::io::WeightFormat;

int64_t WeightLayout::elementBytes() const {
  return scheme.format == WeightFormat::F32    ? 4
         : scheme.format == WeightFormat::BF16 ? 2
                                               : 0;
}

int64_t WeightLayout::groupBytes() const {
  int64_t g = scheme.group;
  if (kind == ColumnBlocks)
    return tileN * scaleBytes() * (scheme.zeroPoint ? 2 : 1) + g * tileN / 2;
  return scaleBytes() * (scheme.zeroPoint ? 2 : 1) + g / 2;
}

int64_t WeightLayout::blockBytes() const {
  switch (scheme.format) {
  case WeightFormat::F32:
  case WeightFormat::BF16:
    return rows * tileN * elementBytes();
  case WeightFormat::Int8:
    return tileN * scaleBytes() + rows * tileN;
  case WeightFormat::Int4:
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
    raw = scaleBytes() + cols;
    break;
  case WeightFormat::Int4:
    raw = cols / scheme.group * groupBytes();
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
                  : scheme.format == WeightFormat::Int8 ? "int8"
                                                        : "int4g" + std::to_string(scheme.group);
  if (scheme.format == WeightFormat::Int8 || scheme.format == WeightFormat::Int4)
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
         scheme.zeroPoint == o.scheme.zeroPoint;
}

QuantScheme mlir::xfmr::schemeOf(RankedTensorType type) {
  QuantScheme s;
  if (auto q = dyn_cast_or_null<QuantAttr>(type.getEncoding())) {
    s.format = q.getBits() == 8 ? WeightFormat::Int8 : WeightFormat::Int4;
    s.group = q.getGroup();
    s.f16Scales = q.getScale().isF16();
    s.zeroPoint = q.getZeroPoint();
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
/// ColumnBlocks from either storage order. Column n of the logical [K, N]
/// matrix is at column(n), element k at column(n)[k * stride].
template <typename ColumnAt>
void packColumnBlocks(const WeightLayout &l, ColumnAt column, int64_t stride,
                      std::vector<uint8_t> &out) {
  const QuantScheme &s = l.scheme;
  const int64_t sb = l.scaleBytes();
  const int64_t K = l.rows, N = l.cols, tn = l.tileN;
  const bool quantized = s.format == WeightFormat::Int8 || s.format == WeightFormat::Int4;
  std::vector<float> columns;
  if (quantized && stride != 1)
    columns.resize(size_t(tn * K));
  for (int64_t b = 0; b < N / tn; ++b) {
    uint8_t *block = out.data() + b * l.blockBytes();
    // Position j of the block holds logical column sourceColumn(b, j).
    auto col = [&](int64_t j) { return column(l.sourceColumn(b, j)); };
    // Quantized, row-major: the block's columns gathered contiguous first,
    // reading the rows in order (a column read straight from a row-major
    // matrix touches one cache line per element, N apart).
    if (quantized && stride != 1)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < tn; ++j)
          columns[size_t(j * K + k)] = col(j)[k * stride];
    auto contiguous = [&](int64_t j) {
      return stride == 1 ? col(j) : columns.data() + j * K;
    };
    switch (s.format) {
    case WeightFormat::F32:
    case WeightFormat::BF16:
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < tn; ++j) {
          // AVX512-BF16 pairs: [K/2][tn][2].
          int64_t at = l.dot ? ((k / 2) * tn + j) * 2 + k % 2 : k * tn + j;
          putElement(block + at * l.elementBytes(), col(j)[k * stride], s.format);
        }
      break;
    case WeightFormat::Int8:
      for (int64_t j = 0; j < tn; ++j) {
        auto q = ::xfmr::io::quantizeGroup(contiguous(j), K, 1, s);
        putScale(block + j * sb, q.scale, s.f16Scales);
        for (int64_t k = 0; k < K; ++k) {
          if (l.dot) // [K/4][tn][4], unsigned
            block[tn * sb + ((k / 4) * tn + j) * 4 + k % 4] =
                uint8_t(int(q.codes[size_t(k)]) + 128);
          else
            block[tn * sb + k * tn + j] = uint8_t(q.codes[size_t(k)]);
        }
      }
      break;
    case WeightFormat::Int4:
      for (int64_t g = 0; g < K / s.group; ++g) {
        uint8_t *grp = block + g * l.groupBytes();
        uint8_t *codes = grp + tn * sb * (s.zeroPoint ? 2 : 1);
        for (int64_t j = 0; j < tn; ++j) {
          auto q = ::xfmr::io::quantizeGroup(contiguous(j) + g * s.group, s.group, 1, s);
          putScale(grp + j * sb, q.scale, s.f16Scales);
          if (s.zeroPoint)
            putScale(grp + (tn + j) * sb, q.min, s.f16Scales);
          for (int64_t k = 0; k < s.group; ++k) {
            uint8_t c = uint8_t(q.codes[size_t(k)]) & 0xF;
            // [G][tn/2], or for VNNI [G/4][tn/2][4]: four k per lane.
            int64_t at = l.dot ? ((k / 4) * (tn / 2) + j % (tn / 2)) * 4 + k % 4
                               : k * (tn / 2) + j % (tn / 2);
            codes[at] |= j < tn / 2 ? c : uint8_t(c << 4);
          }
        }
      }
      break;
    }
  }
}
} // namespace

std::vector<uint8_t> mlir::xfmr::packColumnMajorWeight(const float *w,
                                                       const WeightLayout &l) {
  if (l.kind != WeightLayout::ColumnBlocks) { // row-major for the others
    std::vector<float> rowMajor(size_t(l.rows * l.cols));
    for (int64_t n = 0; n < l.cols; ++n)
      for (int64_t k = 0; k < l.rows; ++k)
        rowMajor[size_t(k * l.cols + n)] = w[n * l.rows + k];
    return packWeight(rowMajor, l);
  }
  std::vector<uint8_t> out(size_t(l.bytes()), 0);
  packColumnBlocks(
      l, [&](int64_t n) { return w + n * l.rows; }, 1, out);
  return out;
}

std::vector<uint8_t> mlir::xfmr::packWeight(const std::vector<float> &w,
                                      const WeightLayout &l) {
  std::vector<uint8_t> out(size_t(l.bytes()), 0);
  const QuantScheme &s = l.scheme;
  const int64_t sb = l.scaleBytes();
  if (l.kind == WeightLayout::Dense) {
    std::memcpy(out.data(), w.data(), out.size());
    return out;
  }
  if (l.kind == WeightLayout::ColumnBlocks) {
    packColumnBlocks(
        l, [&](int64_t n) { return w.data() + n; }, l.cols, out);
    return out;
  }
  // Rows.
  const int64_t V = l.rows, D = l.cols;
  for (int64_t v = 0; v < V; ++v) {
    uint8_t *row = out.data() + v * l.rowBytes();
    const float *src = w.data() + v * D;
    switch (s.format) {
    case WeightFormat::F32:
    case WeightFormat::BF16:
      for (int64_t d = 0; d < D; ++d)
        putElement(row + d * l.elementBytes(), src[d], s.format);
      break;
    case WeightFormat::Int8: {
      auto q = ::xfmr::io::quantizeGroup(src, D, 1, s);
      putScale(row, q.scale, s.f16Scales);
      for (int64_t d = 0; d < D; ++d) // unsigned, ready for vpdpbusd
        row[sb + d] = uint8_t(int(q.codes[size_t(d)]) + 128);
      break;
    }
    case WeightFormat::Int4:
      for (int64_t g = 0; g < D / s.group; ++g) {
        uint8_t *grp = row + g * l.groupBytes();
        auto q = ::xfmr::io::quantizeGroup(src + g * s.group, s.group, 1, s);
        putScale(grp, q.scale, s.f16Scales);
        if (s.zeroPoint)
          putScale(grp + sb, q.min, s.f16Scales);
        uint8_t *codes = grp + sb * (s.zeroPoint ? 2 : 1);
        for (int64_t i = 0; i < s.group; ++i) {
          uint8_t c = uint8_t(q.codes[size_t(i)]) & 0xF;
          codes[i % (s.group / 2)] |= i < s.group / 2 ? c : uint8_t(c << 4);
        }
      }
      break;
    }
  }
  return out;
}
