//===- LMHeadKernel.cpp - xfmr.lm_head on the CPU ---------------------------===//
//
// logits[M,V] = x[M,D] E[V,D]^T. A work unit is `tile_n` vocabulary rows;
// each logit is a dot product of two contiguous rows (quantized rows:
// WeightLayout Rows) followed by one horizontal sum. Four vocabulary rows
// go at a time so their FMA chains overlap and each x vector is loaded once.
// With `vnni` (int8 rows) x is quantized per block of 32 and each block is
// one 256-bit vpdpbusd.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include <tuple>

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;
using ::xfmr::io::WeightFormat;

LogicalResult cpu::buildLMHead(ImplicitLocOpBuilder &b, LMHeadOp op,
                               KernelArgs &a) {
  KB k(b);
  ScheduleAttr s = scheduleOf(op);
  WeightLayout l = layoutOf(op, 1);
  const WeightFormat fmt = l.scheme.format;
  int64_t V = staticDim(op.getWeight(), 0), D = staticDim(op.getWeight(), 1);
  int64_t vw = s.getVectorWidth(), tn = s.getTileN();
  const int64_t G = l.scheme.group;
  if (D % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide the hidden size " << D;
  if (fmt == WeightFormat::Int4 && (G / 2) % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide half the quant group " << G;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], e = a.inputs[1];
  Value c0 = k.idx(0), c1 = k.idx(1);
  Type sT = scaleTypeOf(b, l);
  const int64_t sb = l.scaleBytes();

  // Decode streams the table from memory once per token (it does not stay
  // in cache behind the other weights): ask for each row aheadRows rows
  // ahead, as the linear kernels prefetch their blocks. Measured on GPT-2
  // 124M int8, 2 threads: the LM head went from 1.6 to 0.95 ms per token.
  // The schedule's `prefetch` (rows; 0 = off) overrides the default.
  constexpr int64_t kDefaultPrefetchRows = 8;
  const int64_t aheadRows =
      s.getPrefetch() < 0 ? kDefaultPrefetchRows : s.getPrefetch();
  const uint32_t locality = s.getPrefetchTo() == 2 ? 2 : 3; // l2: prefetcht1
  auto prefetchAt = [&](ValueRange at) {
    if (aheadRows == 0)
      return;
    b.create<memref::PrefetchOp>(e, at, /*isWrite=*/false, /*localityHint=*/locality,
                                 /*isDataCache=*/true);
  };
  // Quantized or bf16 rows (bytes): the byte `byteInRow` of each row.
  auto prefetchRows = [&](ArrayRef<Value> rowBase, Value byteInRow) {
    int64_t tableBytes = cast<MemRefType>(e.getType()).getNumElements();
    for (Value rb : rowBase) {
      Value at = k.add(k.add(rb, byteInRow), k.idx(aheadRows * l.rowBytes()));
      prefetchAt({b.create<arith::MinUIOp>(at, k.idx(tableBytes - 1))});
    }
  };
  // f32 rows ([V, D]): element d of each row.
  auto prefetchF32 = [&](ArrayRef<Value> vs, Value d) {
    for (Value v : vs)
      prefetchAt({b.create<arith::MinUIOp>(k.add(v, k.idx(aheadRows)),
                                           k.idx(V - 1)),
                  d});
  };

  // sum_d x[m, d] * row_r[d] for several vocabulary rows at once: each row
  // has its own accumulators, so their FMA chains overlap, and each x
  // vector is loaded once for all of them.
  auto dots = [&](ArrayRef<Value> vs, Value m) -> SmallVector<Value> {
    const size_t R = vs.size();
    SmallVector<Value> zeros(R, k.splat(vt, 0.0));
    SmallVector<Value> totals;
    if (fmt == WeightFormat::F32) {
      SmallVector<Value> acc = k.forLoop(
          c0, k.idx(D), k.idx(vw), zeros, [&](Value d, ValueRange args) {
            prefetchF32(vs, d);
            Value xv = k.vload(vt, x, {m, d});
            SmallVector<Value> next;
            for (size_t r = 0; r < R; ++r)
              next.push_back(k.fma(xv, k.vload(vt, e, {vs[r], d}), args[r]));
            return next;
          });
      for (Value a : acc)
        totals.push_back(k.sum(a));
      return totals;
    }
    SmallVector<Value> rowBase;
    for (Value v : vs)
      rowBase.push_back(k.mul(v, k.idx(l.rowBytes())));
    if (fmt == WeightFormat::BF16 || fmt == WeightFormat::Int8) {
      int64_t codeOffset = fmt == WeightFormat::Int8 ? sb : 0;
      Type et = fmt == WeightFormat::BF16 ? Type(b.getBF16Type()) : b.getI8Type();
      SmallVector<Value> rows;
      for (Value rb : rowBase)
        rows.push_back(k.view(e, k.add(rb, k.idx(codeOffset)), {D}, et));
      SmallVector<Value> acc = k.forLoop(
          c0, k.idx(D), k.idx(vw), zeros, [&](Value d, ValueRange args) {
            int64_t eb = fmt == WeightFormat::BF16 ? 2 : 1;
            prefetchRows(rowBase, k.add(k.idx(codeOffset), k.mul(d, k.idx(eb))));
            Value xv = k.vload(vt, x, {m, d});
            SmallVector<Value> next;
            for (size_t r = 0; r < R; ++r) {
              Value raw = k.vload(VectorType::get({vw}, et), rows[r], {d});
              if (fmt == WeightFormat::Int8)
                raw = k.unbias(raw);
              next.push_back(k.fma(xv, k.toF32(raw), args[r]));
            }
            return next;
          });
      for (size_t r = 0; r < R; ++r) {
        Value t = k.sum(acc[r]);
        if (fmt == WeightFormat::Int8)
          t = k.mul(t, k.toF32(k.load(k.view(e, rowBase[r], {1}, sT), {c0})));
        totals.push_back(t);
      }
      return totals;
    }
    // int4 rows: per group, scale (and min), then codes[G/2]: byte j holds
    // elements j (low) and j + G/2 (high).
    const int64_t gBytes = l.groupBytes(), half = G / 2;
    const int64_t codeOffset = sb * (l.scheme.zeroPoint ? 2 : 1);
    auto bvt = VectorType::get({vw}, b.getI8Type());
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(D / G), c1, zeros, [&](Value g, ValueRange outer) {
          Value d0 = k.mul(g, k.idx(G));
          prefetchRows(rowBase, k.mul(g, k.idx(gBytes)));
          SmallVector<Value> gBase, codes;
          for (Value rb : rowBase) {
            gBase.push_back(k.add(rb, k.mul(g, k.idx(gBytes))));
            codes.push_back(k.view(e, k.add(gBase.back(), k.idx(codeOffset)),
                                   {half}, b.getI8Type()));
          }
          SmallVector<Value> init(zeros);
          init.push_back(k.splat(vt, 0.0)); // sum of x over the group
          SmallVector<Value> in = k.forLoop(
              c0, k.idx(half), k.idx(vw), init, [&](Value j, ValueRange args) {
                Value xl = k.vload(vt, x, {m, k.add(d0, j)});
                Value xh = k.vload(vt, x, {m, k.add(k.add(d0, j), k.idx(half))});
                SmallVector<Value> next;
                for (size_t r = 0; r < R; ++r) {
                  auto [lo, hi] = k.nibblesF32(k.vload(bvt, codes[r], {j}));
                  if (!l.scheme.zeroPoint) { // w = (c - 8) s, subtracted exactly
                    lo = k.sub(lo, k.splat(vt, 8.0));
                    hi = k.sub(hi, k.splat(vt, 8.0));
                  }
                  next.push_back(k.fma(xh, hi, k.fma(xl, lo, args[r])));
                }
                next.push_back(k.add(args[R], k.add(xl, xh)));
                return next;
              });
          SmallVector<Value> next;
          for (size_t r = 0; r < R; ++r) {
            Value sc = k.toF32(k.load(k.view(e, gBase[r], {1}, sT), {c0}));
            Value t = k.fma(in[r], k.bcast(vt, sc), outer[r]);
            if (!l.scheme.zeroPoint) {
              next.push_back(t);
              continue;
            }
            Value mn = k.toF32(
                k.load(k.view(e, k.add(gBase[r], k.idx(sb)), {1}, sT), {c0}));
            next.push_back(k.fma(in[R], k.bcast(vt, mn), t));
          }
          return next;
        });
    for (Value a : acc)
      totals.push_back(k.sum(a));
    return totals;
  };

  // VNNI (int8 rows): x's row is quantized per block of 32 once per unit
  // and row; each block of a vocabulary row is one 256-bit vpdpbusd of its
  // unsigned codes (q + 128) with the activation codes, and
  // sum_b s_b (dot_b - 128 sum(xq_b)) gives sum(q xq) scaled back.
  // int4 rows with groups of 32 (one activation block per group) too: the
  // group's 16 code bytes unpack to 32 unsigned codes in element order.
  const bool vnni4 = s.getDot() && fmt == WeightFormat::Int4 && G == 32;
  const bool vnni = (s.getDot() && fmt == WeightFormat::Int8) || vnni4;
  // Scratch for kFew rows' codes: decode (and the last row of a prompt)
  // quantizes its rows once per call; more rows are quantized per unit
  // into slot 0. `slot` is the scratch row the dot products read.
  constexpr int64_t kFew = 4;
  Value hq, hq32, hs, hsum, hcorr, slot;
  if (vnni) {
    hq = b.create<memref::AllocaOp>(MemRefType::get({kFew * D}, b.getI8Type()));
    hs = b.create<memref::AllocaOp>(MemRefType::get({kFew, D / 32}, b.getF32Type()));
    hsum = b.create<memref::AllocaOp>(MemRefType::get({kFew, D / 32}, b.getF32Type()));
    hcorr = b.create<memref::AllocaOp>(MemRefType::get({kFew}, b.getF32Type()));
    hq32 = k.view(hq, c0, {kFew * D / 4}, b.getI32Type());
  }
  auto codeAt = [&](Value k0) { return k.add(k.mul(slot, k.idx(D)), k0); };
  auto quantizeRow = [&](Value m) {
    quantizeActivationRow(k, x, m, D, hq, k.mul(slot, k.idx(D)), hs, hsum, {slot});
    // sum_b s_b 128 sum(xq_b): the unsigned codes' offset, shared by all rows.
    Value corr = k.forLoop(c0, k.idx(D / 32), c1, {k.f32(0.0)},
                           [&](Value blk, ValueRange acc) {
                             Value t = k.mul(k.load(hs, {slot, blk}),
                                             k.load(hsum, {slot, blk}));
                             return SmallVector<Value>{
                                 k.add(k.mul(t, k.f32(128.0)), acc[0])};
                           })[0];
    k.store(corr, hcorr, {slot});
  };
  auto vnniDots = [&](ArrayRef<Value> vs) -> SmallVector<Value> {
    const size_t R = vs.size();
    auto v8 = VectorType::get({8}, b.getF32Type());
    auto i8x32 = VectorType::get({32}, b.getI8Type());
    auto i32x8 = VectorType::get({8}, b.getI32Type());
    SmallVector<Value> rowBase, rows;
    for (Value v : vs) {
      rowBase.push_back(k.mul(v, k.idx(l.rowBytes())));
      rows.push_back(k.view(e, k.add(rowBase.back(), k.idx(sb)), {D}, b.getI8Type()));
    }
    Value zero = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i32x8, b.getI32IntegerAttr(0)));
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(D / 32), c1, SmallVector<Value>(R, k.splat(v8, 0.0)),
        [&](Value blk, ValueRange args) {
          Value k0 = k.mul(blk, k.idx(32));
          prefetchRows(rowBase, k0);
          Value xv = b.create<vector::BitCastOp>(i32x8, k.vload(i8x32, hq, {codeAt(k0)}));
          Value sc = k.bcast(v8, k.load(hs, {slot, blk}));
          SmallVector<Value> next;
          for (size_t r = 0; r < R; ++r) {
            Value wv = b.create<vector::BitCastOp>(i32x8, k.vload(i8x32, rows[r], {k0}));
            Value d = k.dpbusd(zero, wv, xv);
            next.push_back(k.fma(b.create<arith::SIToFPOp>(v8, d), sc, args[r]));
          }
          return next;
        });
    Value corr = k.load(hcorr, {slot});
    SmallVector<Value> totals;
    for (size_t r = 0; r < R; ++r) {
      Value rs = k.toF32(k.load(k.view(e, rowBase[r], {1}, sT), {c0}));
      totals.push_back(k.mul(k.sub(k.sum(acc[r]), corr), rs));
    }
    return totals;
  };

  // int4 rows, per group g: w = c s + m, so sum_k w_k x_k is
  // s s_x sum(c xq) + m s_x sum(xq); vpdpbusd gives sum(c xq) per lane.
  auto vnniDots4 = [&](ArrayRef<Value> vs) -> SmallVector<Value> {
    const size_t R = vs.size();
    auto v8 = VectorType::get({8}, b.getF32Type());
    auto i8x16 = VectorType::get({16}, b.getI8Type());
    auto i8x32 = VectorType::get({32}, b.getI8Type());
    auto i32x8 = VectorType::get({8}, b.getI32Type());
    const int64_t gBytes = l.groupBytes();
    const int64_t codeOffset = sb * (l.scheme.zeroPoint ? 2 : 1);
    SmallVector<Value> rowBase;
    for (Value v : vs)
      rowBase.push_back(k.mul(v, k.idx(l.rowBytes())));
    Value zero = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i32x8, b.getI32IntegerAttr(0)));
    Value low = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i8x16, b.getI8IntegerAttr(0x0F)));
    Value four = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i8x16, b.getI8IntegerAttr(4)));
    SmallVector<int64_t> order;
    for (int64_t i = 0; i < 32; ++i)
      order.push_back(i);
    SmallVector<Value> init(R, k.splat(v8, 0.0));
    init.append(R, k.f32(0.0)); // the m s_x sum(xq) terms
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(D / 32), c1, init, [&](Value g, ValueRange args) {
          Value gOff = k.mul(g, k.idx(gBytes));
          prefetchRows(rowBase, gOff);
          Value xv = b.create<vector::BitCastOp>(
              i32x8, k.vload(i8x32, hq, {codeAt(k.mul(g, k.idx(32)))}));
          Value sx = k.load(hs, {slot, g}), xsum = k.load(hsum, {slot, g});
          Value xsumV = k.bcast(v8, xsum);
          SmallVector<Value> next(args.begin(), args.end());
          for (size_t r = 0; r < R; ++r) {
            Value gBase = k.add(rowBase[r], gOff);
            Value raw = k.vload(i8x16, k.view(e, k.add(gBase, k.idx(codeOffset)),
                                              {16}, b.getI8Type()),
                                {c0});
            Value codes = b.create<vector::ShuffleOp>(
                b.create<arith::AndIOp>(raw, low), b.create<arith::ShRUIOp>(raw, four),
                order);
            Value d = k.dpbusd(zero, b.create<vector::BitCastOp>(i32x8, codes), xv);
            Value sw = k.toF32(k.load(k.view(e, gBase, {1}, sT), {c0}));
            Value f = b.create<arith::SIToFPOp>(v8, d);
            if (!l.scheme.zeroPoint) {
              // m = -8 s: sum over the 8 lanes of (dot - sum(xq)) is
              // sum(c xq) - 8 sum(xq), so the offset costs one vector op.
              next[r] = k.fma(k.sub(f, xsumV), k.bcast(v8, k.mul(sw, sx)), args[r]);
              continue;
            }
            Value mn = k.toF32(k.load(k.view(e, k.add(gBase, k.idx(sb)), {1}, sT), {c0}));
            next[r] = k.fma(f, k.bcast(v8, k.mul(sw, sx)), args[r]);
            next[R + r] = k.add(args[R + r], k.mul(mn, k.mul(sx, xsum)));
          }
          return next;
        });
    SmallVector<Value> totals;
    for (size_t r = 0; r < R; ++r)
      totals.push_back(k.add(k.sum(acc[r]), acc[R + r]));
    return totals;
  };

  // Four vocabulary rows at a time, then the rest one by one. bf16 rows go
  // one at a time: measured with bench/kernel_bench (BM_LMHead, one thread,
  // 768 x 50257), four rows took 10.4 ms against 6.7 ms for one, while f32,
  // int8 and int4 gained (10.7 -> 10.3, 2.46 -> 1.91, 3.13 -> 2.55 ms).
  const int64_t kRows = fmt == WeightFormat::BF16 ? 1 : 4;
  auto rowsOf = [&](Value v, int64_t count) {
    SmallVector<Value> vs;
    for (int64_t r = 0; r < count; ++r)
      vs.push_back(k.add(v, k.idx(r)));
    return vs;
  };
  auto emitRows = [&](Value v, int64_t count) {
    SmallVector<Value> vs = rowsOf(v, count);
    k.forLoop(c0, a.n, c1, [&](Value m) {
      SmallVector<Value> t = dots(vs, m);
      for (int64_t r = 0; r < count; ++r)
        k.store(t[r], a.out, {m, vs[r]});
    });
  };
  // Vocabulary rows [v0, v1) of one unit.
  auto unitSpan = [&](Value unit) {
    Value v0 = k.mul(unit, k.idx(tn));
    Value v1 = b.create<arith::MinUIOp>(k.add(v0, k.idx(tn)), k.idx(V));
    Value vMain = k.add(v0, k.mul(b.create<arith::DivUIOp>(k.sub(v1, v0), k.idx(kRows)),
                                  k.idx(kRows)));
    return std::make_tuple(v0, vMain, v1);
  };
  if (!vnni) {
    k.forLoop(a.begin, a.end, c1, [&](Value unit) {
      auto [v0, vMain, v1] = unitSpan(unit);
      k.forLoop(v0, vMain, k.idx(kRows), [&](Value v) { emitRows(v, kRows); });
      k.forLoop(vMain, v1, c1, [&](Value v) { emitRows(v, 1); });
    });
    return success();
  }
  // VNNI: the dot products of token row m (codes in scratch `slot`) with
  // the unit's vocabulary rows.
  auto vnniUnit = [&](Value unit, Value m) {
    auto [v0, vMain, v1] = unitSpan(unit);
    auto emit = [&](Value v, int64_t count) {
      SmallVector<Value> vs = rowsOf(v, count);
      SmallVector<Value> t = vnni4 ? vnniDots4(vs) : vnniDots(vs);
      for (int64_t r = 0; r < count; ++r)
        k.store(t[r], a.out, {m, vs[r]});
    };
    k.forLoop(v0, vMain, k.idx(kRows), [&](Value v) { emit(v, kRows); });
    k.forLoop(vMain, v1, c1, [&](Value v) { emit(v, 1); });
  };
  Value few = b.create<arith::CmpIOp>(arith::CmpIPredicate::ule, a.n, k.idx(kFew));
  auto ifOp = b.create<scf::IfOp>(few, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    // Few token rows (decode): each quantized once per call, into its slot.
    b.setInsertionPoint(ifOp.thenYield());
    k.forLoop(c0, a.n, c1, [&](Value m) {
      slot = m;
      quantizeRow(m);
    });
    k.forLoop(a.begin, a.end, c1, [&](Value unit) {
      k.forLoop(c0, a.n, c1, [&](Value m) {
        slot = m;
        vnniUnit(unit, m);
      });
    });
    // More (every row's logits): quantized per unit into slot 0.
    b.setInsertionPoint(ifOp.elseYield());
    slot = c0;
    k.forLoop(a.begin, a.end, c1, [&](Value unit) {
      k.forLoop(c0, a.n, c1, [&](Value m) {
        quantizeRow(m);
        vnniUnit(unit, m);
      });
    });
  }
  return success();
}
