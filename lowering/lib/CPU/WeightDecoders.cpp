//===- WeightDecoders.cpp - the weight formats' decoders -------------------===//
//
// One class per storage of codes (see WeightLayout.h for the bytes):
//   float   f32 or bf16 elements, no scales (bf16 for AVX512-BF16 is read
//           by that strategy directly: pairs of k, no decoding)
//   int8    signed codes (FMA layout) or q + 128 quads (VNNI), one scale
//           per column / row or per group
//   int4    nibble codes c in [0, 15], w = (c - 8) s or c s + m per group
//
//===----------------------------------------------------------------------===//
#include "WeightDecoders.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;
using ::xfmr::io::WeightFormat;

namespace {
Value byteSplat(ImplicitLocOpBuilder &b, VectorType t, int64_t v) {
  return b.create<arith::ConstantOp>(
      DenseElementsAttr::get(t, b.getIntegerAttr(t.getElementType(), v)));
}
} // namespace

//===----------------------------------------------------------------------===//
// ColumnBlocks
//===----------------------------------------------------------------------===//

ColumnDecoder::ColumnDecoder(KB &k, const WeightLayout &l, Value w, int64_t vw)
    : k(k), b(k.b), l(l), w(w), K(l.rows), tn(l.tileN), vw(vw), sb(l.scaleBytes()),
      group_(l.rows), sT(scaleTypeOf(k.b, l)),
      vt(VectorType::get({vw}, k.b.getF32Type())), svt(VectorType::get({vw}, sT)) {}

Value ColumnDecoder::groupBase(Value base, Value g) {
  return groupBytes_ ? k.add(base, k.mul(g, k.idx(groupBytes_))) : base;
}

Value ColumnDecoder::scale(Value gBase, int64_t j) {
  return k.toF32(k.vload(svt, k.view(w, gBase, {tn}, sT), {k.idx(j * vw)}));
}

Value ColumnDecoder::min(Value gBase, int64_t j) {
  return k.toF32(k.vload(svt, k.view(w, k.add(gBase, k.idx(tn * sb)), {tn}, sT),
                         {k.idx(j * vw)}));
}

namespace {
/// f32 / bf16 [K][tn] (or an f32 memref of that shape: a widened block).
class FloatColumns : public ColumnDecoder {
public:
  FloatColumns(KB &k, const WeightLayout &l, Value w, int64_t vw, Value widened)
      : ColumnDecoder(k, l, w, vw), widened(widened) {
    elem = widened || l.scheme.format == WeightFormat::F32 ? Type(b.getF32Type())
                                                          : Type(b.getBF16Type());
  }
  Value codes(Value gBase) override {
    return widened ? widened : k.view(w, gBase, {K, tn}, elem);
  }
  SmallVector<Value> widen(Value codes, Value kk, ArrayRef<int64_t> vecs) override {
    auto et = VectorType::get({vw}, elem);
    SmallVector<Value> out;
    for (int64_t j : vecs)
      out.push_back(k.toF32(k.vload(et, codes, {kk, k.idx(j * vw)})));
    return out;
  }
  int64_t rowBytes() const override { return tn * (elem.isF32() ? 4 : 2); }

private:
  Value widened;
  Type elem;
};

/// int8: per group, scales[tn] then codes: [G][tn] signed, or for VNNI
/// [G/4][tn][4] stored as q + 128.
class Int8Columns : public ColumnDecoder {
public:
  Int8Columns(KB &k, const WeightLayout &l, Value w, int64_t vw)
      : ColumnDecoder(k, l, w, vw) {
    scaled_ = true;
    if (l.scheme.group) {
      group_ = l.scheme.group;
      groupBytes_ = l.groupBytes();
    }
  }
  Value codes(Value gBase) override {
    return k.view(w, k.add(gBase, k.idx(tn * sb)), {group_, tn}, b.getI8Type());
  }
  SmallVector<Value> widen(Value codes, Value kk, ArrayRef<int64_t> vecs) override {
    auto et = VectorType::get({vw}, b.getI8Type());
    SmallVector<Value> out;
    for (int64_t j : vecs)
      out.push_back(k.toF32(k.vload(et, codes, {kk, k.idx(j * vw)})));
    return out;
  }
  int64_t rowBytes() const override { return tn; }

  bool hasQuads() const override { return true; }
  int64_t dotOffset() const override { return 128; }
  Value quadCodes(Value gBase) override {
    return k.view(w, k.add(gBase, k.idx(tn * sb)), {group_ / 4, tn * 4}, b.getI8Type());
  }
  SmallVector<Value> quads(Value codes, Value q, ArrayRef<int64_t> vecs) override {
    auto i32v = VectorType::get({16}, b.getI32Type());
    auto b64 = VectorType::get({64}, b.getI8Type());
    SmallVector<Value> out;
    for (int64_t j : vecs)
      out.push_back(b.create<vector::BitCastOp>(i32v, k.vload(b64, codes, {q, k.idx(j * 64)})));
    return out;
  }
  int64_t quadRowBytes() const override { return tn * 4; }
};

/// int4: per group of G, scales[tn], (mins[tn]), codes [G][tn/2] or for
/// VNNI [G/4][tn/2][4]; byte j holds column j (low nibble) and j + tn/2.
class Int4Columns : public ColumnDecoder {
public:
  Int4Columns(KB &k, const WeightLayout &l, Value w, int64_t vw)
      : ColumnDecoder(k, l, w, vw) {
    scaled_ = true;
    hasMin_ = l.scheme.zeroPoint;
    group_ = l.scheme.group;
    groupBytes_ = l.groupBytes();
    codesPerLoad_ = 2;
    codeOffset = tn * sb * (hasMin_ ? 2 : 1);
  }
  Value codes(Value gBase) override {
    return k.view(w, k.add(gBase, k.idx(codeOffset)), {group_, tn / 2}, b.getI8Type());
  }
  SmallVector<Value> widen(Value codes, Value kk, ArrayRef<int64_t> vecs) override {
    const int64_t half = int64_t(vecs.size()) / 2;
    auto bvt = VectorType::get({vw}, b.getI8Type());
    SmallVector<Value> out(vecs.size());
    for (int64_t t = 0; t < half; ++t) {
      auto [lo, hi] = k.nibblesF32(k.vload(bvt, codes, {kk, k.idx(vecs[t] * vw)}));
      // Symmetric codes dequantize as (c - 8) s: subtract here, exactly,
      // rather than 8 s sum(x) later (which cancelled and cost accuracy).
      out[t] = hasMin_ ? lo : k.sub(lo, k.splat(vt, 8.0));
      out[t + half] = hasMin_ ? hi : k.sub(hi, k.splat(vt, 8.0));
    }
    return out;
  }
  int64_t rowBytes() const override { return tn / 2; }

  bool hasQuads() const override { return true; }
  int64_t dotOffset() const override { return hasMin_ ? 0 : 8; }
  Value quadCodes(Value gBase) override {
    return k.view(w, k.add(gBase, k.idx(codeOffset)), {group_ / 4, tn * 2}, b.getI8Type());
  }
  SmallVector<Value> quads(Value codes, Value q, ArrayRef<int64_t> vecs) override {
    const int64_t half = int64_t(vecs.size()) / 2;
    auto i32v = VectorType::get({16}, b.getI32Type());
    auto b64 = VectorType::get({64}, b.getI8Type());
    Value low = byteSplat(b, b64, 0x0F), four = byteSplat(b, b64, 4);
    SmallVector<Value> out(vecs.size());
    for (int64_t t = 0; t < half; ++t) {
      Value raw = k.vload(b64, codes, {q, k.idx(vecs[t] * 64)});
      out[t] = b.create<vector::BitCastOp>(i32v, b.create<arith::AndIOp>(raw, low));
      out[t + half] = b.create<vector::BitCastOp>(i32v, b.create<arith::ShRUIOp>(raw, four));
    }
    return out;
  }
  int64_t quadRowBytes() const override { return tn * 2; }

private:
  int64_t codeOffset;
};
} // namespace

std::unique_ptr<ColumnDecoder> cpu::columnDecoder(KB &k, const WeightLayout &l, Value w,
                                                  int64_t vw, Value widenedF32) {
  switch (l.scheme.format) {
  case WeightFormat::F32:
  case WeightFormat::BF16:
    return std::make_unique<FloatColumns>(k, l, w, vw, widenedF32);
  case WeightFormat::Int8:
    return std::make_unique<Int8Columns>(k, l, w, vw);
  case WeightFormat::Int4:
    return std::make_unique<Int4Columns>(k, l, w, vw);
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Rows
//===----------------------------------------------------------------------===//

RowDecoder::RowDecoder(KB &k, const WeightLayout &l, Value table, int64_t D, int64_t vw)
    : k(k), b(k.b), l(l), table(table), D(D), vw(vw), sb(l.scaleBytes()), group_(D),
      sT(scaleTypeOf(k.b, l)), vt(VectorType::get({vw}, k.b.getF32Type())) {}

Value RowDecoder::groupBase(Value row, Value g) {
  return groupBytes_ ? k.add(row, k.mul(g, k.idx(groupBytes_))) : row;
}

Value RowDecoder::scale(Value row, Value g) {
  return k.toF32(k.load(k.view(table, groupBase(row, g), {1}, sT), {k.idx(0)}));
}

Value RowDecoder::min(Value row, Value g) {
  return k.toF32(
      k.load(k.view(table, k.add(groupBase(row, g), k.idx(sb)), {1}, sT), {k.idx(0)}));
}

void RowDecoder::prefetch(Value row, Value g, Value j, int64_t ahead, uint32_t locality) {
  // The byte of the chunk in its row, in the row `ahead` further on.
  int64_t tableBytes = cast<MemRefType>(table.getType()).getNumElements();
  Value inRow = groupBytes_ ? k.mul(g, k.idx(groupBytes_))
                            : k.add(k.idx(codeOffset_), k.mul(j, k.idx(l.elementBytes() ? l.elementBytes() : 1)));
  Value at = k.add(k.add(row, inRow), k.idx(ahead * l.rowBytes()));
  b.create<memref::PrefetchOp>(table, ValueRange{b.create<arith::MinUIOp>(at, k.idx(tableBytes - 1))},
                               /*isWrite=*/false, locality, /*isDataCache=*/true);
}

namespace {
/// A plain [V, D] f32 table (an f32 embedding or LM head has no Rows layout).
class F32Rows : public RowDecoder {
public:
  using RowDecoder::RowDecoder;
  Value rowKey(Value v) override { return v; }
  SmallVector<Value> widen(Value row, Value g, Value j) override {
    return {k.vload(vt, table, {row, j})};
  }
  void prefetch(Value row, Value g, Value j, int64_t ahead, uint32_t locality) override {
    int64_t V = cast<MemRefType>(table.getType()).getDimSize(0);
    b.create<memref::PrefetchOp>(
        table, ValueRange{b.create<arith::MinUIOp>(k.add(row, k.idx(ahead)), k.idx(V - 1)), j},
        /*isWrite=*/false, locality, /*isDataCache=*/true);
  }
};

/// bf16 rows: [D] elements.
class BF16Rows : public RowDecoder {
public:
  using RowDecoder::RowDecoder;
  SmallVector<Value> widen(Value row, Value g, Value j) override {
    Value r = k.view(table, row, {D}, b.getBF16Type());
    return {k.toF32(k.vload(VectorType::get({vw}, b.getBF16Type()), r, {j}))};
  }
};

/// int8 rows: scale then codes[D] as q + 128, or per group of G: scale,
/// codes[G].
class Int8Rows : public RowDecoder {
public:
  Int8Rows(KB &k, const WeightLayout &l, Value table, int64_t D, int64_t vw)
      : RowDecoder(k, l, table, D, vw) {
    scaled_ = true;
    codeOffset_ = sb;
    if (l.scheme.group) {
      group_ = l.scheme.group;
      groupBytes_ = l.groupBytes();
    }
  }
  SmallVector<Value> widen(Value row, Value g, Value j) override {
    Value codes = k.view(table, k.add(groupBase(row, g), k.idx(sb)), {group_}, b.getI8Type());
    return {k.toF32(k.unbias(k.vload(VectorType::get({vw}, b.getI8Type()), codes, {j})))};
  }
  bool hasQuads() const override { return true; }
  int64_t dotOffset() const override { return 128; }
  Value quads32(Value row, Value g, Value blk) override {
    auto i8x32 = VectorType::get({32}, b.getI8Type());
    Value codes = k.view(table, k.add(groupBase(row, g), k.idx(sb)), {group_}, b.getI8Type());
    return b.create<vector::BitCastOp>(VectorType::get({8}, b.getI32Type()),
                                       k.vload(i8x32, codes, {k.mul(blk, k.idx(32))}));
  }
};

/// int4 rows: per group of G, scale, (min), codes[G/2] with byte j =
/// element j | element j + G/2 << 4.
class Int4Rows : public RowDecoder {
public:
  Int4Rows(KB &k, const WeightLayout &l, Value table, int64_t D, int64_t vw)
      : RowDecoder(k, l, table, D, vw) {
    scaled_ = true;
    hasMin_ = l.scheme.zeroPoint;
    group_ = l.scheme.group;
    groupBytes_ = l.groupBytes();
    codesPerLoad_ = 2;
    codeOffset_ = sb * (hasMin_ ? 2 : 1);
  }
  SmallVector<Value> widen(Value row, Value g, Value j) override {
    Value codes = k.view(table, k.add(groupBase(row, g), k.idx(codeOffset_)), {group_ / 2},
                         b.getI8Type());
    auto [lo, hi] = k.nibblesF32(k.vload(VectorType::get({vw}, b.getI8Type()), codes, {j}));
    if (!hasMin_) { // w = (c - 8) s, subtracted exactly
      lo = k.sub(lo, k.splat(vt, 8.0));
      hi = k.sub(hi, k.splat(vt, 8.0));
    }
    return {lo, hi};
  }
  bool hasQuads() const override { return group_ == 32; }
  int64_t dotOffset() const override { return hasMin_ ? 0 : 8; }
  Value quads32(Value row, Value g, Value blk) override {
    // The group's 16 code bytes unpack to 32 unsigned codes in element
    // order: the low nibbles, then the high ones.
    auto i8x16 = VectorType::get({16}, b.getI8Type());
    Value raw = k.vload(i8x16,
                        k.view(table, k.add(groupBase(row, g), k.idx(codeOffset_)), {16},
                               b.getI8Type()),
                        {k.idx(0)});
    SmallVector<int64_t> order;
    for (int64_t i = 0; i < 32; ++i)
      order.push_back(i);
    Value codes = b.create<vector::ShuffleOp>(
        b.create<arith::AndIOp>(raw, byteSplat(b, i8x16, 0x0F)),
        b.create<arith::ShRUIOp>(raw, byteSplat(b, i8x16, 4)), order);
    return b.create<vector::BitCastOp>(VectorType::get({8}, b.getI32Type()), codes);
  }
};
} // namespace

std::unique_ptr<RowDecoder> cpu::rowDecoder(KB &k, const WeightLayout &l, Value table,
                                            int64_t D, int64_t vw) {
  switch (l.scheme.format) {
  case WeightFormat::F32:
    return std::make_unique<F32Rows>(k, l, table, D, vw);
  case WeightFormat::BF16:
    return std::make_unique<BF16Rows>(k, l, table, D, vw);
  case WeightFormat::Int8:
    return std::make_unique<Int8Rows>(k, l, table, D, vw);
  case WeightFormat::Int4:
    return std::make_unique<Int4Rows>(k, l, table, D, vw);
  }
  return nullptr;
}
