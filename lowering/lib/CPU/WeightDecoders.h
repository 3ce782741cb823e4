//===- WeightDecoders.h - how each weight format becomes numbers -*- C++ -*-===//
//
// A weight format is a decoder: given where a block of its codes and scales
// lies (WeightLayout), it emits the ops that turn them into f32 lanes (for
// the FMA kernels) or into unsigned byte quads (for VNNI's vpdpbusd), and the
// per-group scales and minimums that map the codes back:
//
//   w = (code - offset) * scale + min        per group of `group` reduction
//                                            elements (the whole reduction
//                                            for one scale per channel/row)
//
// The multiply strategies (FMA, VNNI, AVX512-BF16, AMX) and the tilings of
// LinearKernels.cpp, LMHeadKernel.cpp and RowKernels.cpp are written once
// against this interface; a new format adds a decoder and its tests.
//
// Two orientations, as WeightLayout stores them:
//   ColumnDecoder  ColumnBlocks (xfmr.linear): lanes are output columns of a
//                  block of tile_n; a group is `group` consecutive k.
//   RowDecoder     Rows (xfmr.lm_head, xfmr.embedding): lanes are
//                  consecutive elements of one table row; a group is `group`
//                  consecutive elements.
// A decoder whose codes are 4- or 6-bit yields two vectors per load
// (`codesPerLoad` 2): ColumnBlocks pair column vector j with j + nv/2,
// Rows pair element j of a group with j + group/2.
//
// K-quant super-blocks (Q4_K, Q6_K) compute each group's scales from the
// super-block's f16 scale and the group's small integer codes, which is
// why scales take the group (its index) and not only where its bytes are.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_CPU_WEIGHTDECODERS_H
#define XFMR_LOWERING_CPU_WEIGHTDECODERS_H

#include "KernelBuilder.h"

#include <memory>

namespace mlir::xfmr::cpu {

/// A ColumnBlocks weight of one xfmr.linear, decoded per group of k.
class ColumnDecoder {
public:
  /// One group of one block: the block's base, the group's index (null for
  /// the single group of one scale per column) and where its bytes start.
  struct Group {
    Value block, index, base;
  };
  ColumnDecoder(KB &k, const WeightLayout &l, Value w, int64_t vw);
  virtual ~ColumnDecoder() = default;

  /// Reduction elements per scale group; the whole reduction (K) when one
  /// scale covers a column or when there are no scales.
  int64_t group() const { return group_; }
  int64_t groups() const { return K / group_; }
  bool scaled() const { return scaled_; }
  bool hasMin() const { return hasMin_; }
  /// Vectors one code load yields (2 for 4-bit codes: j and j + nv/2).
  int64_t codesPerLoad() const { return codesPerLoad_; }
  /// Group `g` of the block at byte offset `block` (g null: the single
  /// group).
  virtual Group group(Value block, Value g);
  /// f32 lanes of the scale (min) of vector j of the group.
  virtual Value scale(const Group &g, int64_t j);
  virtual Value min(const Group &g, int64_t j);

  // ---- FMA: codes widened to f32 ---------------------------------------
  /// The group's codes as a memref the loads below index.
  virtual Value codes(const Group &g) = 0;
  /// f32 lanes of (code - offset), or the weight itself for float formats,
  /// at reduction row kk of the group for the tile's vectors `vecs`
  /// (4-bit: [first halves..., their partners...], one load per pair).
  virtual SmallVector<Value> widen(Value codes, Value kk,
                                   ArrayRef<int64_t> vecs) = 0;
  /// Bytes of one reduction row of `codes` (the streaming prefetch).
  virtual int64_t rowBytes() const = 0;

  // ---- VNNI: unsigned byte quads, four k per 32-bit lane ----------------
  virtual bool hasQuads() const { return false; }
  /// The offset the unsigned codes carry: w = (u - offset) s + m.
  virtual int64_t dotOffset() const { return 0; }
  /// The group's quads as a memref, and the i32 lanes of quad row q for
  /// `vecs` (same pairing as widen).
  virtual Value quadCodes(const Group &g) { return {}; }
  virtual SmallVector<Value> quads(Value codes, Value q, ArrayRef<int64_t> vecs) {
    return {};
  }
  virtual int64_t quadRowBytes() const { return 0; }

protected:
  KB &k;
  ImplicitLocOpBuilder &b;
  const WeightLayout &l;
  Value w;
  int64_t K, tn, vw, sb;
  int64_t group_ = 0, codesPerLoad_ = 1;
  bool scaled_ = false, hasMin_ = false;
  int64_t groupBytes_ = 0; // 0: one group at the block's base
  Type sT;
  VectorType vt, svt;
};

/// The decoder of a linear's weight; `widenedF32`, when given, is an f32
/// [K, tile_n] copy of a float block that the FMA kernels read instead
/// (bf16 prefill widens each block once).
std::unique_ptr<ColumnDecoder> columnDecoder(KB &k, const WeightLayout &l, Value w,
                                             int64_t vw, Value widenedF32 = {});

/// A Rows table (or a plain [V, D] f32 memref), decoded per group of a row.
class RowDecoder {
public:
  RowDecoder(KB &k, const WeightLayout &l, Value table, int64_t D, int64_t vw);
  virtual ~RowDecoder() = default;

  int64_t group() const { return group_; }
  int64_t groups() const { return D / group_; }
  bool scaled() const { return scaled_; }
  bool hasMin() const { return hasMin_; }
  int64_t codesPerLoad() const { return codesPerLoad_; }
  /// Elements between the vectors one load yields (group / codesPerLoad).
  int64_t span() const { return group_ / codesPerLoad_; }
  /// Why this decoder cannot run at its vector width, or "".
  virtual std::string unsupportedWidth() const { return ""; }

  /// The key the other calls take for table row v (its byte offset, or v).
  virtual Value rowKey(Value v) { return k.mul(v, k.idx(l.rowBytes())); }
  /// f32 lanes of (code - offset) for elements g*group + j + p*span(),
  /// p < codesPerLoad, of the row.
  virtual SmallVector<Value> widen(Value row, Value g, Value j) = 0;
  /// The group's scale and min, as f32 scalars.
  virtual Value scale(Value row, Value g);
  virtual Value min(Value row, Value g);
  /// Prefetch row `row` + `ahead` rows at the bytes of element chunk (g, j)
  /// (clamped to the table).
  virtual void prefetch(Value row, Value g, Value j, int64_t ahead, uint32_t locality);

  // ---- VNNI -------------------------------------------------------------
  virtual bool hasQuads() const { return false; }
  virtual int64_t dotOffset() const { return 0; }
  /// 32 unsigned codes of activation block `blk` (elements 32 blk ..) of
  /// group g, in element order, as i32 x 8.
  virtual Value quads32(Value row, Value g, Value blk) { return {}; }

protected:
  virtual Value groupBase(Value row, Value g);
  KB &k;
  ImplicitLocOpBuilder &b;
  const WeightLayout &l;
  Value table;
  int64_t D, vw, sb;
  int64_t group_ = 0, codesPerLoad_ = 1;
  bool scaled_ = false, hasMin_ = false;
  int64_t groupBytes_ = 0, codeOffset_ = 0;
  Type sT;
  VectorType vt;
};

std::unique_ptr<RowDecoder> rowDecoder(KB &k, const WeightLayout &l, Value table,
                                       int64_t D, int64_t vw);

} // namespace mlir::xfmr::cpu

#endif // XFMR_LOWERING_CPU_WEIGHTDECODERS_H
