//===- LinearKernels.cpp - xfmr.linear on the CPU: tiling and epilogue -----===//
//
// xfmr.linear: y[M,N] = act(norm(x)[M,K] W[K,N] + b) * u + r, the optional
// parts folded in by the fusion passes. A work unit is one block of
// `tile_n` output columns, stored contiguously (WeightLayout ColumnBlocks),
// so each thread streams its blocks once, in order, for all rows.
//
// Rows are first prepared once per call and thread: the fused norm, then
// for dot-product schedules the rounding of x (int8 per block of 32 for
// VNNI, bf16 for AVX512-BF16); up to tile_m rows (decode) on the stack,
// more (prefill) in a heap buffer. Inside a unit, rows go `tile_m` at a
// time through a register tile of tile_m x (tile_n / vector_width) vector
// accumulators, then one at a time; with `amx`, int8 prefill takes 16-row
// AMX tiles first. How one tile multiplies is the strategy's
// (LinearStrategies.cpp), how the weights decode the format's
// (WeightDecoders.cpp); see LinearKernel.h.
// The epilogue applies bias, activation, gate multiply and residual to each
// output vector before it is stored. A `gated` linear's blocks hold tn/2
// gate columns and the same tn/2 up columns (WeightLayout), so a register
// tile pairs gate vector j with up vector j + nv/2 and stores act(g) * u.
//
//===----------------------------------------------------------------------===//
#include "LinearKernel.h"

#include <functional>

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;
using ::xfmr::io::WeightFormat;

LinearKernel::LinearKernel(ImplicitLocOpBuilder &b, LinearOp op, KernelArgs &a)
    : b(b), k(b, a.avx2Dot), op(op), a(a), s(scheduleOf(op)), l(layoutOf(op, 1)),
      fmt(l.scheme.format), amxOps(k) {
  // N: weight columns; a gated linear stores N / 2 of them.
  K = staticDim(op.getWeight(), 0);
  N = staticDim(op.getWeight(), 1);
  gated = op.getGated();
  outN = gated ? N / 2 : N;
  vw = s.getVectorWidth();
  tn = s.getTileN();
  tm = s.getTileM();
  unroll = s.getUnroll();
  nv = tn / vw;
  bf16Dot = l.dot && fmt == WeightFormat::BF16;
  useAMX = s.getAmx() && l.dot && !bf16Dot && fmt == WeightFormat::Int8 &&
           !l.scheme.group && tn % 16 == 0;
  vt = VectorType::get({vw}, b.getF32Type());
  x = a.inputs[0];
  w = a.inputs[1];
  unsigned next = 2; // optional operands, in operand order
  bias = op.getBias() ? a.inputs[next++] : Value();
  gamma = op.getNormGamma() ? a.inputs[next++] : Value();
  beta = op.getNormBeta() ? a.inputs[next++] : Value();
  residual = op.getResidual() ? a.inputs[next++] : Value();
  multiplier = op.getMultiplier() ? a.inputs[next++] : Value();
  act = op.getActivation();
  // Decode streams each block once: prefetch the block's row kPrefetchBytes
  // ahead of row k (every cache line of it), so more lines are in flight
  // than the out-of-order window alone keeps. The schedule's `prefetch`
  // (bytes; 0 = off) overrides the default. (4096 was tried as the
  // default: fp32 decode 15.84 against 16.24 ms for 2048 in a fair A/B,
  // int8 equal; docs/tuner.md.)
  constexpr int64_t kPrefetchBytes = 2048;
  prefetchBytes = s.getPrefetch() < 0 ? kPrefetchBytes : s.getPrefetch();
}

LogicalResult LinearKernel::validate() {
  if (N % tn != 0)
    return op.emitOpError() << "schedule tile_n " << tn << " does not divide the " << N
                            << " columns";
  if (K % unroll != 0)
    return op.emitOpError() << "schedule unroll " << unroll
                            << " does not divide the reduction size " << K;
  if ((fmt == WeightFormat::Int4 || fmt == WeightFormat::Int6) && tn % (2 * vw) != 0)
    return op.emitOpError() << "int4 and int6 weights need tile_n (" << tn
                            << ") to be a multiple of 2 x vector_width (" << vw << ")";
  if (l.dot && fmt == WeightFormat::Int6) // no quads decoder (WeightDecoders.cpp)
    return op.emitOpError() << "schedule dot = true, but the CPU kernels have no "
                               "dot-product decoder for "
                            << l.describe() << " weights";
  if (gated && tn % (2 * vw) != 0)
    return op.emitOpError() << "a gated linear needs tile_n (" << tn
                            << ") to be a multiple of 2 x vector_width (" << vw << ")";
  return success();
}

Value LinearKernel::column(Value unit, int64_t j) {
  if (!gated)
    return k.add(k.mul(unit, k.idx(tn)), k.idx(j * vw));
  const int64_t halfTile = tn / 2, p = j * vw;
  return k.add(k.mul(unit, k.idx(halfTile)), k.idx((p < halfTile ? 0 : outN) + p % halfTile));
}

// The output vectors (indices into the block's nv) one register tile
// covers: at most kAccumulators accumulators, and for two vectors per code
// load whole pairs (j, j + nv/2) that share their code bytes; gated
// likewise, gate vector j with its up vector j + nv/2.
// (VNNI keeps an i32 and an f32 accumulator per output vector.)
SmallVector<SmallVector<int64_t>> LinearKernel::subTiles(int64_t rows) {
  // AVX2 dot products keep each 16-lane vector in two 256-bit registers
  // (of 16): half as many.
  const int64_t kAccumulators = l.dot ? (a.avx2Dot ? 4 : 8) : 24;
  SmallVector<SmallVector<int64_t>> tiles;
  int64_t per = std::max<int64_t>(1, kAccumulators / rows);
  if (decoder->codesPerLoad() == 2 || gated) {
    int64_t pairs = std::max<int64_t>(1, per / 2);
    for (int64_t j0 = 0; j0 < nv / 2; j0 += pairs) {
      SmallVector<int64_t> t;
      for (int64_t j = j0; j < std::min(nv / 2, j0 + pairs); ++j)
        t.push_back(j);
      for (int64_t j = j0; j < std::min(nv / 2, j0 + pairs); ++j)
        t.push_back(j + nv / 2);
      tiles.push_back(t);
    }
    return tiles;
  }
  for (int64_t j0 = 0; j0 < nv; j0 += per) {
    SmallVector<int64_t> t;
    for (int64_t j = j0; j < std::min(nv, j0 + per); ++j)
      t.push_back(j);
    tiles.push_back(t);
  }
  return tiles;
}

SmallVector<Value> LinearKernel::initAcc(Value unit, int64_t rows, ArrayRef<int64_t> vecs,
                                         bool withBias) {
  SmallVector<Value> init;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j : vecs)
      init.push_back(withBias && bias ? k.vload(vt, bias, {column(unit, j)})
                                      : k.splat(vt, 0.0));
  return init;
}

// Rows are prepared (normalized, quantized) into scratch slots; a tile's
// row i lives in slot s0 + i. Without a fused norm, widened kernels read x
// itself (row m0 + i).
Value LinearKernel::xAt(Value m0, Value s0, int64_t i, Value kx) {
  return gamma ? k.load(xn, {slot(s0, i), kx}) : k.load(x, {k.add(m0, k.idx(i)), kx});
}

Value LinearKernel::xQuad(Value s0, int64_t i, Value kq) {
  return k.bcast(VectorType::get({16}, b.getI32Type()),
                 k.load(xq32, {k.add(k.mul(slot(s0, i), k.idx(K / 4)), kq)}));
}

// prefetch_to = l2: the row that streams a block from memory (decode's one
// row, the first of a few) prefetches with prefetcht1 (LLVM locality 2)
// instead of prefetcht0. Rows that find the block in L2 keep prefetcht0,
// which lifts it into L1 ahead of their loads: with prefetcht1 there too,
// an 8-token fp32 prompt measured 13% slower.
void LinearKernel::prefetchAhead(Value view, Value row, int64_t rowsInView, int64_t rowBytes,
                                 int64_t rows) {
  if (prefetchBytes == 0)
    return;
  const uint32_t locality = rows == 1 && streamingRow && s.getPrefetchTo() == 2 ? 2 : 3;
  int64_t ahead = std::max<int64_t>(1, prefetchBytes / rowBytes);
  Value r = b.create<arith::MinUIOp>(k.add(row, k.idx(ahead)), k.idx(rowsInView - 1));
  int64_t elem = rowBytes / tn;
  for (int64_t off = 0; off < rowBytes; off += 64)
    b.create<memref::PrefetchOp>(view, ValueRange{r, k.idx(off / elem)},
                                 /*isWrite=*/false, /*localityHint=*/locality,
                                 /*isDataCache=*/true);
}

// Prefill reads each unit's block once from memory, in its first row tile,
// and then from L2: that first tile would wait on memory at the rate the
// FMAs consume. So every row tile also prefetches (to L2) one cache line of
// the next unit's block per k, line (m0 / rows) K + k, the first few tiles
// covering it whole.
void LinearKernel::prefetchNextBlock(Value m0, Value kk, Value base, int64_t rows) {
  const int64_t blockLines = (l.blockBytes() + 63) / 64;
  Value lastBase = k.idx((N / tn - 1) * l.blockBytes());
  Value next = b.create<arith::MinUIOp>(k.add(base, k.idx(l.blockBytes())), lastBase);
  Value bytes = k.view(w, next, {blockLines * 64 - 63}, b.getI8Type());
  Value line = k.add(k.mul(b.create<arith::DivUIOp>(m0, k.idx(rows)), k.idx(K)), kk);
  line = b.create<arith::MinUIOp>(line, k.idx(blockLines - 1));
  b.create<memref::PrefetchOp>(bytes, ValueRange{k.mul(line, k.idx(64))},
                               /*isWrite=*/false, /*localityHint=*/2, /*isDataCache=*/true);
}

// Applies a group's scales: acc = partial * scale + addend (+ sum(x) min),
// from the group's partial sums (rows x vecs vectors, then one sum(x) per
// row with mins). The addend is acc itself between groups, or for a single
// group (unit given) the bias.
void LinearKernel::applyScales(ColumnDecoder &d, const ColumnDecoder::Group &g, Value unit,
                               int64_t rows,
                               ArrayRef<int64_t> vecs, ArrayRef<Value> partial,
                               SmallVector<Value> &acc) {
  const int64_t nt = int64_t(vecs.size());
  for (int64_t t = 0; t < nt; ++t) {
    int64_t j = vecs[t];
    Value sj = d.scale(g, j);
    Value bj = !unit ? Value()
               : bias ? k.vload(vt, bias, {column(unit, j)})
                      : k.splat(vt, 0.0);
    Value mj = d.hasMin() ? d.min(g, j) : Value();
    for (int64_t i = 0; i < rows; ++i) {
      acc[i * nt + t] = k.fma(partial[i * nt + t], sj, bj ? bj : acc[i * nt + t]);
      if (mj)
        acc[i * nt + t] = k.fma(k.bcast(vt, partial[rows * nt + i]), mj, acc[i * nt + t]);
    }
  }
}

SmallVector<Value> LinearKernel::overGroups(
    ColumnDecoder &d, Value unit, Value base, int64_t rows, ArrayRef<int64_t> vecs,
    const std::function<SmallVector<Value>(const ColumnDecoder::Group &)> &groupPass) {
  if (d.groups() == 1) {
    ColumnDecoder::Group only = d.group(base, Value());
    SmallVector<Value> partial = groupPass(only);
    if (!d.scaled()) // float weights: the pass started from the bias
      return partial;
    SmallVector<Value> acc(rows * vecs.size());
    applyScales(d, only, unit, rows, vecs, partial, acc);
    return acc;
  }
  return k.forLoop(c0, k.idx(d.groups()), c1, initAcc(unit, rows, vecs, true),
                   [&](Value g, ValueRange outer) {
                     ColumnDecoder::Group grp = d.group(base, g);
                     SmallVector<Value> partial = groupPass(grp);
                     SmallVector<Value> acc(outer.begin(), outer.end());
                     applyScales(d, grp, Value(), rows, vecs, partial, acc);
                     return acc;
                   });
}

// Prepares rows m0 .. m0+rows-1 of x into slots s0 .. s0+rows-1: the fused
// norm, then for dot-product kernels the rounding of the (normalized) rows.
// All sub-tiles of a row tile read the slots.
void LinearKernel::prepareRows(Value m0, Value s0, int64_t rows) {
  int64_t normVW = 16;
  while (K % normVW != 0)
    normVW /= 2;
  auto normVT = VectorType::get({normVW}, b.getF32Type());
  const double eps = gamma ? op.getNormEpsilon()->convertToDouble() : 0.0;
  for (int64_t i = 0; i < rows; ++i) {
    Value row = k.add(m0, k.idx(i)), sl = slot(s0, i);
    if (gamma)
      normalizeRow(k, normVT, x, row, K, eps, gamma, beta, xn, sl);
    if (!l.dot)
      continue;
    Value src = gamma ? xn : x, srcRow = gamma ? sl : row;
    if (!bf16Dot) {
      quantizeActivationRow(k, src, srcRow, K, xq, k.mul(sl, k.idx(K)), xs, xsum, {sl});
      continue;
    }
    auto bv = VectorType::get({16}, b.getBF16Type());
    k.forLoop(c0, k.idx(K), k.idx(16), [&](Value c) {
      k.vstore(b.create<arith::TruncFOp>(bv, k.vload(vt, src, {srcRow, c})), xb16,
               {k.add(k.mul(sl, k.idx(K)), c)});
    });
  }
}

// Epilogue of one output vector: activation, the gated half's up vector,
// gate multiply, residual.
void LinearKernel::store(Value row, Value col, Value y) {
  if (multiplier)
    y = k.mul(y, k.vload(vt, multiplier, {row, col}));
  if (residual)
    y = k.add(y, k.vload(vt, residual, {row, col}));
  k.vstore(y, a.out, {row, col});
}

void LinearKernel::finish(Value row, Value col, Value y, Value up) {
  if (act)
    y = applyActivation(k, vt, *act, y);
  store(row, col, up ? k.mul(y, up) : y);
}

// One register tile: `rows` rows from m0, output vectors `vecs` of the
// block at byte `base`, multiplied by the schedule's strategy.
void LinearKernel::microTile(Value m0, Value s0, Value unit, Value base, int64_t rows,
                             ArrayRef<int64_t> vecs) {
  const int64_t nt = int64_t(vecs.size());
  SmallVector<Value> acc;
  if (bf16Dot)
    acc = bf16DotTile(m0, s0, unit, base, rows, vecs);
  else if (l.dot)
    acc = vnniTile(*decoder, m0, s0, unit, base, rows, vecs);
  else
    acc = fmaTile(widenedDecoder ? *widenedDecoder : *decoder, m0, s0, unit, base, rows, vecs);
  for (int64_t i = 0; i < rows; ++i) {
    Value row = k.add(m0, k.idx(i));
    if (!gated) {
      for (int64_t t = 0; t < nt; ++t)
        finish(row, column(unit, vecs[t]), acc[i * nt + t]);
      continue;
    }
    // Gated tiles are [gate vectors..., their up vectors...].
    for (int64_t t = 0; t < nt / 2; ++t)
      finish(row, column(unit, vecs[t]), acc[i * nt + t], acc[i * nt + t + nt / 2]);
  }
}

void LinearKernel::build() {
  c0 = k.idx(0);
  c1 = k.idx(1);
  decoder = columnDecoder(k, l, w, vw);
  if (useAMX)
    tileOut = b.create<memref::AllocaOp>(MemRefType::get({2 * 1024}, b.getI8Type()));
  if (gamma) // fused norm: the normalized rows, [tm][K]
    xn = b.create<memref::AllocaOp>(MemRefType::get({tm, K}, b.getF32Type()));
  // VNNI: the tile's rows of x are quantized per block of 32 reduction
  // elements (s = max|x| / 127) into scratch allocated once at the kernel's
  // entry; vpdpbusd multiplies the unsigned weight codes with the signed
  // activation codes, four k per 32-bit lane.
  if (bf16Dot) {
    Value raw = b.create<memref::AllocaOp>(MemRefType::get({tm * K * 2}, b.getI8Type()));
    xb16 = k.view(raw, c0, {tm * K}, b.getBF16Type());
    xb32 = k.view(raw, c0, {tm * K / 2}, b.getI32Type());
  } else if (l.dot) {
    xq = b.create<memref::AllocaOp>(MemRefType::get({tm * K}, b.getI8Type()));
    xq32 = k.view(xq, c0, {tm * K / 4}, b.getI32Type());
    xq = k.view(xq, c0, {tm * K}, b.getI8Type());
    xs = b.create<memref::AllocaOp>(MemRefType::get({tm, K / 32}, b.getF32Type()));
    xsum = b.create<memref::AllocaOp>(MemRefType::get({tm, K / 32}, b.getF32Type()));
  }

  // Rows are prepared once per call and thread. Few rows (decode): into the
  // tm-row scratch on the stack, then every unit of this thread streams over
  // them. More rows (prefill): into scratch on the heap sized for the
  // kernel's max_tokens rows (prepared once rather than once per column
  // block, which cost as much as the products themselves), then per unit,
  // row tiles of tm while the unit's weights stay in cache.
  const bool prepares = gamma || l.dot;
  Value few = b.create<arith::CmpIOp>(arith::CmpIPredicate::ule, a.n, k.idx(tm));
  auto ifOp = b.create<scf::IfOp>(few, /*withElseRegion=*/true);
  auto prepareAll = [&] {
    if (prepares)
      k.forLoop(c0, a.n, c1, [&](Value m) { prepareRows(m, m, 1); });
  };
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(ifOp.thenYield());
  prepareAll();
  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value base = k.mul(unit, k.idx(l.blockBytes()));
    auto rowTiles = [&](Value m) {
      for (auto &vecs : subTiles(1))
        microTile(m, m, unit, base, 1, vecs);
    };
    // Row 0 streams the unit's block from memory (a loop of at most one
    // iteration); the other rows find it in cache.
    streamingRow = true;
    k.forLoop(c0, b.create<arith::MinUIOp>(a.n, c1), c1, rowTiles);
    streamingRow = false;
    k.forLoop(c1, a.n, c1, rowTiles);
  });

  b.setInsertionPoint(ifOp.elseYield());
  const int64_t maxRows = staticDim(x, 0);
  SmallVector<Value> heap;
  auto alloc = [&](ArrayRef<int64_t> shape, Type t) {
    heap.push_back(b.create<memref::AllocOp>(MemRefType::get(shape, t)));
    return heap.back();
  };
  if (gamma)
    xn = alloc({maxRows, K}, b.getF32Type());
  if (bf16Dot) {
    Value raw = alloc({maxRows * K * 2}, b.getI8Type());
    xb16 = k.view(raw, c0, {maxRows * K}, b.getBF16Type());
    xb32 = k.view(raw, c0, {maxRows * K / 2}, b.getI32Type());
  } else if (l.dot) {
    Value raw = alloc({maxRows * K}, b.getI8Type());
    xq = k.view(raw, c0, {maxRows * K}, b.getI8Type());
    xqRaw = raw;
    xq32 = k.view(raw, c0, {maxRows * K / 4}, b.getI32Type());
    xs = alloc({maxRows, K / 32}, b.getF32Type());
    xsum = alloc({maxRows, K / 32}, b.getF32Type());
  }
  prepareAll();
  // Prefill with widened bf16 weights: the unit's block as f32 [K][tn],
  // widened once per unit rather than once per row tile.
  Value widened;
  if (fmt == WeightFormat::BF16 && !l.dot) {
    widened = alloc({K, tn}, b.getF32Type());
    widenedDecoder = columnDecoder(k, l, w, vw, widened);
  }
  if (useAMX) // A: tmm0, tmm3; B: tmm1, tmm2; C: tmm4, tmm5
    amxOps.configure({{16, 32}, {8, 64}, {8, 64}, {16, 32}, {16, 64}, {16, 64}});
  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value base = k.mul(unit, k.idx(l.blockBytes()));
    if (widened) {
      auto bv = VectorType::get({vw}, b.getBF16Type());
      Value src = k.view(w, base, {K, tn}, b.getBF16Type());
      k.forLoop(c0, k.idx(K), c1, [&](Value kk) {
        for (int64_t j = 0; j < nv; ++j)
          k.vstore(k.toF32(k.vload(bv, src, {kk, k.idx(j * vw)})), widened,
                   {kk, k.idx(j * vw)});
      });
    }
    Value mStart = c0;
    if (useAMX) {
      Value c16 = k.idx(16);
      mStart = k.mul(b.create<arith::DivUIOp>(a.n, c16), c16);
      k.forLoop(c0, mStart, c16, [&](Value m0) { amxTile(m0, unit, base); });
    }
    Value mMain = mStart;
    if (tm > 1) {
      Value ctm = k.idx(tm);
      mMain = k.add(mStart, k.mul(b.create<arith::DivUIOp>(k.sub(a.n, mStart), ctm), ctm));
      k.forLoop(mStart, mMain, ctm, [&](Value m0) {
        for (auto &vecs : subTiles(tm))
          microTile(m0, m0, unit, base, tm, vecs);
      });
    }
    k.forLoop(mMain, a.n, c1, [&](Value m) {
      for (auto &vecs : subTiles(1))
        microTile(m, m, unit, base, 1, vecs);
    });
  });
  widenedDecoder.reset();
  if (useAMX)
    amxOps.release();
  for (Value h : heap)
    b.create<memref::DeallocOp>(h);
}

LogicalResult cpu::buildLinear(ImplicitLocOpBuilder &b, LinearOp op, KernelArgs &a) {
  LinearKernel kernel(b, op, a);
  if (failed(kernel.validate()))
    return failure();
  kernel.build();
  return success();
}
