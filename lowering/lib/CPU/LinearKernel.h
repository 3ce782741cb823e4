//===- LinearKernel.h - the parts of the xfmr.linear generator -*- C++ -*-===//
//
// buildLinear (LinearKernels.cpp) is three separate parts:
//   tiling      which rows and output vectors go through one register tile,
//               decode against prefill, the row preparation, the epilogue
//               (LinearKernels.cpp);
//   strategies  how one register tile multiplies: FMA on widened weights,
//               VNNI on int8 quads, AVX512-BF16 on bf16 pairs, AMX tiles
//               (LinearStrategies.cpp);
//   decoders    how the weight format's codes and scales become f32 lanes
//               or byte quads (WeightDecoders.h).
// A strategy works for every decoder that offers what it needs (FMA: all;
// VNNI: those with quads; AVX512-BF16: bf16 pairs; AMX: int8 quads with one
// scale per column).
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_CPU_LINEARKERNEL_H
#define XFMR_LOWERING_CPU_LINEARKERNEL_H

#include "AMXTiles.h"
#include "KernelBuilder.h"
#include "WeightDecoders.h"

namespace mlir::xfmr::cpu {

/// What every part of one linear kernel shares: shapes, schedule, operands
/// and the scratch the prepared rows live in.
struct LinearKernel {
  LinearKernel(ImplicitLocOpBuilder &b, LinearOp op, KernelArgs &a);
  /// Emits the kernel body (after validate()).
  void build();
  LogicalResult validate();

  // ---- tiling (LinearKernels.cpp) ---------------------------------------
  /// Weight column (= bias index) of vector j of `unit`: for a gated
  /// block's gate half also the result column.
  Value column(Value unit, int64_t j);
  SmallVector<SmallVector<int64_t>> subTiles(int64_t rows);
  SmallVector<Value> initAcc(Value unit, int64_t rows, ArrayRef<int64_t> vecs, bool withBias);
  Value slot(Value s0, int64_t i) { return k.add(s0, k.idx(i)); }
  /// Element kx of a tile's row i: the normalized slot or x itself.
  Value xAt(Value m0, Value s0, int64_t i, Value kx);
  /// VNNI: the four activation codes of quad kq of row i in all 16 lanes.
  Value xQuad(Value s0, int64_t i, Value kq);
  void prepareRows(Value m0, Value s0, int64_t rows);
  void microTile(Value m0, Value s0, Value unit, Value base, int64_t rows,
                 ArrayRef<int64_t> vecs);
  void store(Value row, Value col, Value y);
  void finish(Value row, Value col, Value y, Value up = {});
  /// acc = partial * scale + (bias, for a single group given `unit`, else
  /// acc) (+ sum(x) min), per tile vector.
  void applyScales(ColumnDecoder &d, const ColumnDecoder::Group &g, Value unit, int64_t rows,
                   ArrayRef<int64_t> vecs, ArrayRef<Value> partial, SmallVector<Value> &acc);
  /// The tile's result from groupPass(group) (its index null for a single
  /// group): one pass then scales and bias, or a loop over the groups.
  SmallVector<Value>
  overGroups(ColumnDecoder &d, Value unit, Value base, int64_t rows, ArrayRef<int64_t> vecs,
             const std::function<SmallVector<Value>(const ColumnDecoder::Group &)> &groupPass);
  void prefetchAhead(Value view, Value row, int64_t rowsInView, int64_t rowBytes, int64_t rows);
  void prefetchNextBlock(Value m0, Value kk, Value base, int64_t rows);

  // ---- strategies (LinearStrategies.cpp) --------------------------------
  SmallVector<Value> fmaTile(ColumnDecoder &d, Value m0, Value s0, Value unit, Value base,
                             int64_t rows, ArrayRef<int64_t> vecs);
  SmallVector<Value> vnniTile(ColumnDecoder &d, Value m0, Value s0, Value unit, Value base,
                              int64_t rows, ArrayRef<int64_t> vecs);
  SmallVector<Value> bf16DotTile(Value m0, Value s0, Value unit, Value base, int64_t rows,
                                 ArrayRef<int64_t> vecs);
  void amxTile(Value m0, Value unit, Value base);

  ImplicitLocOpBuilder &b;
  KB k;
  LinearOp op;
  KernelArgs &a;
  ScheduleAttr s;
  WeightLayout l;
  ::xfmr::io::WeightFormat fmt;
  int64_t K, N, outN, vw, tn, tm, unroll, nv;
  bool gated, bf16Dot, useAMX;
  VectorType vt;
  Value x, w, bias, gamma, beta, residual, multiplier;
  std::optional<GatedActivation> act;
  Value c0, c1;
  std::unique_ptr<ColumnDecoder> decoder; // the weight's; prefill bf16 swaps in a widened one
  std::unique_ptr<ColumnDecoder> widenedDecoder;

  // Prepared rows: the fused norm's output, the VNNI codes with their
  // scales and sums, or the bf16-rounded rows (stack for decode, heap for
  // prefill).
  Value xn, xq, xq32, xqRaw, xs, xsum, xb16, xb32;
  Value tileOut; // AMX: two 16 x 16 i32 tile results
  AMXTiles amxOps;
  int64_t prefetchBytes;
  bool streamingRow = false; // set while the first row's tile is emitted
};

} // namespace mlir::xfmr::cpu

#endif // XFMR_LOWERING_CPU_LINEARKERNEL_H
