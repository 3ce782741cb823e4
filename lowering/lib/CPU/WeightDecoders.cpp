//===- WeightDecoders.cpp - the weight formats' decoders -------------------===//
//
// One class per storage of codes (see WeightLayout.h for the bytes):
//   float   f32 or bf16 elements, no scales (bf16 for AVX512-BF16 is read
//           by that strategy directly: pairs of k, no decoding)
//   int8    signed codes (FMA layout) or q + 128 quads (VNNI), one scale
//           per column / row or per group
//   int4    nibble codes c in [0, 15], w = (c - 8) s or c s + m per group
//   Q4_K    int4 with a zero point, its scales and mins 6-bit codes of the
//           super-block's f16 d and dmin: s = d sc, m = -(dmin m)
//   Q6_K    6-bit codes c in [0, 63] (a low nibble as int4, a bit pair
//           apart), w = (c - 32) s, s = d sc with int8 sc (FMA only)
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

Value andI(ImplicitLocOpBuilder &b, Value x, Value y) { return b.create<arith::AndIOp>(x, y); }
Value orI(ImplicitLocOpBuilder &b, Value x, Value y) { return b.create<arith::OrIOp>(x, y); }
Value shr(ImplicitLocOpBuilder &b, Value x, Value y) { return b.create<arith::ShRUIOp>(x, y); }
Value shl(ImplicitLocOpBuilder &b, Value x, Value y) { return b.create<arith::ShLIOp>(x, y); }

/// An i8 constant (scalar, or splat over the vector type `like`).
Value i8Const(ImplicitLocOpBuilder &b, Type like, int64_t v) {
  if (auto vt = dyn_cast<VectorType>(like))
    return byteSplat(b, vt, v);
  return b.create<arith::ConstantOp>(b.getI8IntegerAttr(int8_t(v)));
}

/// An index as i8 (scalar, or splat over `like`): a shift amount.
Value i8Of(KB &k, Type like, Value index) {
  Value s = k.b.create<arith::IndexCastOp>(k.b.getI8Type(), index);
  if (auto vt = dyn_cast<VectorType>(like))
    return k.bcast(vt, s);
  return s;
}

/// Q4_K's 6-bit scale and min codes of group gi from its low byte `lo`
/// (sc & 15 | (m & 15) << 4) and high byte `hi` (group gi's top bits of sc
/// and m at bits 4 (gi / 4) + 0..1 and + 2..3), as f32 (scalar or lanes).
std::pair<Value, Value> q4KCodes(KB &k, Value lo, Value hi, Value gi) {
  ImplicitLocOpBuilder &b = k.b;
  Type t = lo.getType();
  Value shift = i8Of(k, t, k.mul(k.b.create<arith::DivUIOp>(gi, k.idx(4)), k.idx(4)));
  Value top = shr(b, hi, shift);
  Value three = i8Const(b, t, 3), four = i8Const(b, t, 4), fifteen = i8Const(b, t, 15);
  Value sc = orI(b, andI(b, lo, fifteen), shl(b, andI(b, top, three), four));
  Value m = orI(b, shr(b, lo, four), shl(b, andI(b, shr(b, top, i8Const(b, t, 2)), three), four));
  return {k.toF32(sc), k.toF32(m)}; // < 64: signed conversion is exact
}
} // namespace

//===----------------------------------------------------------------------===//
// ColumnBlocks
//===----------------------------------------------------------------------===//

ColumnDecoder::ColumnDecoder(KB &k, const WeightLayout &l, Value w, int64_t vw)
    : k(k), b(k.b), l(l), w(w), K(l.rows), tn(l.tileN), vw(vw), sb(l.scaleBytes()),
      group_(l.rows), sT(scaleTypeOf(k.b, l)),
      vt(VectorType::get({vw}, k.b.getF32Type())), svt(VectorType::get({vw}, sT)) {}

ColumnDecoder::Group ColumnDecoder::group(Value block, Value g) {
  return {block, g, g && groupBytes_ ? k.add(block, k.mul(g, k.idx(groupBytes_))) : block};
}

Value ColumnDecoder::scale(const Group &g, int64_t j) {
  return k.toF32(k.vload(svt, k.view(w, g.base, {tn}, sT), {k.idx(j * vw)}));
}

Value ColumnDecoder::min(const Group &g, int64_t j) {
  return k.toF32(k.vload(svt, k.view(w, k.add(g.base, k.idx(tn * sb)), {tn}, sT),
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
  Value codes(const Group &g) override {
    return widened ? widened : k.view(w, g.base, {K, tn}, elem);
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
  Value codes(const Group &g) override {
    return k.view(w, k.add(g.base, k.idx(tn * sb)), {group_, tn}, b.getI8Type());
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
  Value quadCodes(const Group &g) override {
    return k.view(w, k.add(g.base, k.idx(tn * sb)), {group_ / 4, tn * 4}, b.getI8Type());
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
  Value codes(const Group &g) override {
    return k.view(w, k.add(g.base, k.idx(codeOffset)), {group_, tn / 2}, b.getI8Type());
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
  Value quadCodes(const Group &g) override {
    return k.view(w, k.add(g.base, k.idx(codeOffset)), {group_ / 4, tn * 2}, b.getI8Type());
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

protected:
  int64_t codeOffset;
};
} // namespace

namespace {
/// Q4_K: int4 codes with a zero point; per super-block of 256 k a header
/// d[tn], dmin[tn], lo[8][tn], hi[4][tn] (WeightLayout.h), then the 8
/// groups' codes as int4 (FMA or VNNI layout).
class Q4KColumns : public Int4Columns {
public:
  Q4KColumns(KB &k, const WeightLayout &l, Value w, int64_t vw) : Int4Columns(k, l, w, vw) {
    codeOffset = 0; // the group's bytes are its codes
    superBytes = l.superBytes();
  }
  Group group(Value block, Value g) override {
    Value gi = k.b.create<arith::RemUIOp>(g, k.idx(8));
    return {block, g, k.add(superBase(block, g), k.add(k.idx(16 * tn), k.mul(gi, k.idx(16 * tn))))};
  }
  Value scale(const Group &g, int64_t j) override {
    return k.mul(header(g, 0, j), codes6(g, j).first);
  }
  Value min(const Group &g, int64_t j) override {
    return b.create<arith::NegFOp>(k.mul(header(g, 2, j), codes6(g, j).second));
  }

private:
  Value superBase(Value block, Value g) {
    return k.add(block, k.mul(b.create<arith::DivUIOp>(g, k.idx(8)), k.idx(superBytes)));
  }
  /// d (at = 0) or dmin (at = 2) of vector j, f32.
  Value header(const Group &g, int64_t at, int64_t j) {
    auto h = VectorType::get({vw}, b.getF16Type());
    return k.toF32(k.vload(h, k.view(w, k.add(superBase(g.block, g.index), k.idx(at * tn)), {tn},
                                     b.getF16Type()),
                           {k.idx(j * vw)}));
  }
  std::pair<Value, Value> codes6(const Group &g, int64_t j) {
    auto bv = VectorType::get({vw}, b.getI8Type());
    Value sup = superBase(g.block, g.index);
    Value gi = b.create<arith::RemUIOp>(g.index, k.idx(8));
    Value lo = k.vload(bv, k.view(w, k.add(sup, k.add(k.idx(4 * tn), k.mul(gi, k.idx(tn)))), {tn},
                                  b.getI8Type()),
                       {k.idx(j * vw)});
    Value hiRow = b.create<arith::RemUIOp>(gi, k.idx(4));
    Value hi = k.vload(bv, k.view(w, k.add(sup, k.add(k.idx(12 * tn), k.mul(hiRow, k.idx(tn)))),
                                  {tn}, b.getI8Type()),
                       {k.idx(j * vw)});
    return q4KCodes(k, lo, hi, gi);
  }
  int64_t superBytes;
};

/// Q6_K: per super-block of 256 k, d[tn] f16 and sc[16][tn] i8, then per
/// group of 16: low nibbles [16][tn/2] as int4, top bit pairs [8][tn/2].
class Q6KColumns : public ColumnDecoder {
public:
  Q6KColumns(KB &k, const WeightLayout &l, Value w, int64_t vw) : ColumnDecoder(k, l, w, vw) {
    scaled_ = true;
    group_ = 16;
    groupBytes_ = l.groupBytes();
    codesPerLoad_ = 2;
    superBytes = l.superBytes();
  }
  Group group(Value block, Value g) override {
    Value gi = b.create<arith::RemUIOp>(g, k.idx(16));
    return {block, g,
            k.add(superBase(block, g), k.add(k.idx(18 * tn), k.mul(gi, k.idx(groupBytes_))))};
  }
  Value scale(const Group &g, int64_t j) override {
    Value sup = superBase(g.block, g.index);
    Value gi = b.create<arith::RemUIOp>(g.index, k.idx(16));
    Value d = k.toF32(k.vload(VectorType::get({vw}, b.getF16Type()),
                              k.view(w, sup, {tn}, b.getF16Type()), {k.idx(j * vw)}));
    Value sc = k.vload(VectorType::get({vw}, b.getI8Type()),
                       k.view(w, k.add(sup, k.add(k.idx(2 * tn), k.mul(gi, k.idx(tn)))), {tn},
                              b.getI8Type()),
                       {k.idx(j * vw)});
    return k.mul(d, k.toF32(sc));
  }
  Value codes(const Group &g) override {
    return k.view(w, g.base, {24, tn / 2}, b.getI8Type()); // rows 0..15 low, 16..23 high
  }
  SmallVector<Value> widen(Value codes, Value kk, ArrayRef<int64_t> vecs) override {
    const int64_t half = int64_t(vecs.size()) / 2;
    auto bvt = VectorType::get({vw}, b.getI8Type());
    Value pairRow = k.add(k.idx(16), b.create<arith::DivUIOp>(kk, k.idx(2)));
    Value shift = i8Of(k, bvt, k.mul(b.create<arith::RemUIOp>(kk, k.idx(2)), k.idx(4)));
    Value fifteen = byteSplat(b, bvt, 15), three = byteSplat(b, bvt, 3),
          four = byteSplat(b, bvt, 4), two = byteSplat(b, bvt, 2);
    SmallVector<Value> out(vecs.size());
    for (int64_t t = 0; t < half; ++t) {
      Value raw = k.vload(bvt, codes, {kk, k.idx(vecs[t] * vw)});
      Value top = shr(b, k.vload(bvt, codes, {pairRow, k.idx(vecs[t] * vw)}), shift);
      Value lo = orI(b, andI(b, raw, fifteen), shl(b, andI(b, top, three), four));
      Value hi = orI(b, shr(b, raw, four), shl(b, andI(b, shr(b, top, two), three), four));
      // (c - 32) exactly, before the scale, as ggml's (d sc) (q - 32).
      out[t] = k.sub(k.toF32(lo), k.splat(vt, 32.0));
      out[t + half] = k.sub(k.toF32(hi), k.splat(vt, 32.0));
    }
    return out;
  }
  int64_t rowBytes() const override { return tn / 2; }

private:
  Value superBase(Value block, Value g) {
    return k.add(block, k.mul(b.create<arith::DivUIOp>(g, k.idx(16)), k.idx(superBytes)));
  }
  int64_t superBytes;
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
    if (l.scheme.superBlock)
      return std::make_unique<Q4KColumns>(k, l, w, vw);
    return std::make_unique<Int4Columns>(k, l, w, vw);
  case WeightFormat::Int6:
    return std::make_unique<Q6KColumns>(k, l, w, vw);
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

namespace {
/// The prefetch of a super-block row decoder: the group's bytes, `ahead`
/// rows on (clamped to the table).
void prefetchGroup(KB &k, Value table, Value groupBase, int64_t rowBytes, int64_t ahead,
                   uint32_t locality) {
  int64_t tableBytes = cast<MemRefType>(table.getType()).getNumElements();
  Value at = k.add(groupBase, k.idx(ahead * rowBytes));
  k.b.create<memref::PrefetchOp>(
      table, ValueRange{k.b.create<arith::MinUIOp>(at, k.idx(tableBytes - 1))},
      /*isWrite=*/false, locality, /*isDataCache=*/true);
}

/// Q4_K rows: per super-block d, dmin, lo[8], hi[4] (16 bytes), then the 8
/// groups' codes as int4 rows (16 bytes each).
class Q4KRows : public Int4Rows {
public:
  Q4KRows(KB &k, const WeightLayout &l, Value table, int64_t D, int64_t vw)
      : Int4Rows(k, l, table, D, vw), superBytes(l.superBytes()) {
    codeOffset_ = 0;
  }
  Value scale(Value row, Value g) override {
    return k.mul(header(row, g, 0), codes6(row, g).first);
  }
  Value min(Value row, Value g) override {
    return b.create<arith::NegFOp>(k.mul(header(row, g, 2), codes6(row, g).second));
  }
  void prefetch(Value row, Value g, Value j, int64_t ahead, uint32_t locality) override {
    prefetchGroup(k, table, groupBase(row, g), l.rowBytes(), ahead, locality);
  }

protected:
  Value groupBase(Value row, Value g) override {
    Value gi = b.create<arith::RemUIOp>(g, k.idx(8));
    return k.add(superBase(row, g), k.add(k.idx(16), k.mul(gi, k.idx(16))));
  }

private:
  Value superBase(Value row, Value g) {
    return k.add(row, k.mul(b.create<arith::DivUIOp>(g, k.idx(8)), k.idx(superBytes)));
  }
  Value header(Value row, Value g, int64_t at) {
    return k.toF32(
        k.load(k.view(table, k.add(superBase(row, g), k.idx(at)), {1}, b.getF16Type()),
               {k.idx(0)}));
  }
  std::pair<Value, Value> codes6(Value row, Value g) {
    Value sup = superBase(row, g), gi = b.create<arith::RemUIOp>(g, k.idx(8));
    auto byteAt = [&](Value off) {
      return k.load(k.view(table, k.add(sup, off), {1}, b.getI8Type()), {k.idx(0)});
    };
    return q4KCodes(k, byteAt(k.add(k.idx(4), gi)),
                    byteAt(k.add(k.idx(12), b.create<arith::RemUIOp>(gi, k.idx(4)))), gi);
  }
  int64_t superBytes;
};

/// Q6_K rows: per super-block d and sc[16] (18 bytes), then per group of
/// 16: 8 bytes elem j | elem j + 8 << 4, 4 bytes with elem j + 4p's top
/// bit pair at bits 2p of byte j. Vector width 8 takes a group as two
/// vectors (the two nibbles); 16 as one.
class Q6KRows : public RowDecoder {
public:
  Q6KRows(KB &k, const WeightLayout &l, Value table, int64_t D, int64_t vw)
      : RowDecoder(k, l, table, D, vw), superBytes(l.superBytes()) {
    scaled_ = true;
    group_ = 16;
    groupBytes_ = l.groupBytes();
    codesPerLoad_ = vw == 8 ? 2 : 1;
  }
  SmallVector<Value> widen(Value row, Value g, Value j) override {
    Value base = groupBase(row, g);
    Value bytes = k.view(table, base, {12}, b.getI8Type());
    auto v8 = VectorType::get({8}, b.getI8Type());
    Value lo8 = k.vload(v8, bytes, {k.idx(0)});
    Value hi4 = k.vload(VectorType::get({4}, b.getI8Type()), bytes, {k.idx(8)});
    // Elements 0..7 and 8..15: their nibbles, and the bit pairs of byte
    // e % 4 at 2 (e / 4).
    Value pairs = b.create<vector::ShuffleOp>(hi4, hi4, ArrayRef<int64_t>{0, 1, 2, 3, 0, 1, 2, 3});
    auto shifts = [&](int64_t first) {
      SmallVector<int8_t> v;
      for (int64_t e = first; e < first + 8; ++e)
        v.push_back(int8_t(2 * (e / 4)));
      return b.create<arith::ConstantOp>(DenseElementsAttr::get(v8, ArrayRef<int8_t>(v)));
    };
    Value fifteen = byteSplat(b, v8, 15), three = byteSplat(b, v8, 3), four = byteSplat(b, v8, 4);
    Value c0 = orI(b, andI(b, lo8, fifteen),
                   shl(b, andI(b, shr(b, pairs, shifts(0)), three), four));
    Value c1 = orI(b, shr(b, lo8, four), shl(b, andI(b, shr(b, pairs, shifts(8)), three), four));
    SmallVector<Value> codes;
    if (codesPerLoad_ == 2) {
      codes = {c0, c1};
    } else {
      SmallVector<int64_t> order;
      for (int64_t i = 0; i < 16; ++i)
        order.push_back(i);
      codes = {b.create<vector::ShuffleOp>(c0, c1, order)};
    }
    SmallVector<Value> out;
    for (Value c : codes) { // (c - 32) exactly, before the scale
      auto ft = VectorType::get(cast<VectorType>(c.getType()).getShape(), b.getF32Type());
      out.push_back(k.sub(k.toF32(c), k.splat(ft, 32.0)));
    }
    return out;
  }
  std::string unsupportedWidth() const override {
    return vw == 8 || vw == 16 ? "" : "Q6_K rows decode 8 or 16 lanes, not " + std::to_string(vw);
  }
  Value scale(Value row, Value g) override {
    Value sup = superBase(row, g), gi = b.create<arith::RemUIOp>(g, k.idx(16));
    Value d = k.toF32(k.load(k.view(table, sup, {1}, b.getF16Type()), {k.idx(0)}));
    Value sc = k.load(k.view(table, k.add(sup, k.add(k.idx(2), gi)), {1}, b.getI8Type()),
                      {k.idx(0)});
    return k.mul(d, k.toF32(sc));
  }
  void prefetch(Value row, Value g, Value j, int64_t ahead, uint32_t locality) override {
    prefetchGroup(k, table, groupBase(row, g), l.rowBytes(), ahead, locality);
  }

protected:
  Value groupBase(Value row, Value g) override {
    Value gi = b.create<arith::RemUIOp>(g, k.idx(16));
    return k.add(superBase(row, g), k.add(k.idx(18), k.mul(gi, k.idx(groupBytes_))));
  }

private:
  Value superBase(Value row, Value g) {
    return k.add(row, k.mul(b.create<arith::DivUIOp>(g, k.idx(16)), k.idx(superBytes)));
  }
  int64_t superBytes;
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
    if (l.scheme.superBlock)
      return std::make_unique<Q4KRows>(k, l, table, D, vw);
    return std::make_unique<Int4Rows>(k, l, table, D, vw);
  case WeightFormat::Int6:
    return std::make_unique<Q6KRows>(k, l, table, D, vw);
  }
  return nullptr;
}
