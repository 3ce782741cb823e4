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
#include "WeightDecoders.h"

#include <tuple>

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;
using ::xfmr::io::WeightFormat;

LogicalResult cpu::buildLMHead(ImplicitLocOpBuilder &b, LMHeadOp op,
                               KernelArgs &a) {
  KB k(b, a.avx2Dot);
  ScheduleAttr s = scheduleOf(op);
  WeightLayout l = layoutOf(op, 1);
  const WeightFormat fmt = l.scheme.format;
  int64_t V = staticDim(op.getWeight(), 0), D = staticDim(op.getWeight(), 1);
  int64_t vw = s.getVectorWidth(), tn = s.getTileN();
  if (D % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide the hidden size " << D;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], e = a.inputs[1];
  Value c0 = k.idx(0), c1 = k.idx(1);

  // Decode streams the table from memory once per token (it does not stay
  // in cache behind the other weights): ask for each row aheadRows rows
  // ahead, as the linear kernels prefetch their blocks. Measured on GPT-2
  // 124M int8, 2 threads: the LM head went from 1.6 to 0.95 ms per token.
  // The schedule's `prefetch` (rows; 0 = off) overrides the default.
  constexpr int64_t kDefaultPrefetchRows = 8;
  const int64_t aheadRows =
      s.getPrefetch() < 0 ? kDefaultPrefetchRows : s.getPrefetch();
  const uint32_t locality = s.getPrefetchTo() == 2 ? 2 : 3; // l2: prefetcht1
  std::unique_ptr<RowDecoder> dec = rowDecoder(k, l, e, D, vw);
  const int64_t G = dec->group(), span = dec->span(), cpl = dec->codesPerLoad();
  if (std::string why = dec->unsupportedWidth(); !why.empty())
    return op.emitOpError() << why;
  if (span % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide half the quant group " << G;
  // Small groups (a few dozen bytes) are prefetched once per group, the
  // others per loaded chunk.
  const bool prefetchPerGroup = dec->groups() > 1;
  auto prefetchRows = [&](ArrayRef<Value> rows, Value g, Value j) {
    if (aheadRows == 0)
      return;
    for (Value r : rows)
      dec->prefetch(r, g, j, aheadRows, locality);
  };

  // sum_d x[m, d] * row_r[d] for several vocabulary rows at once: each row
  // has its own accumulators, so their FMA chains overlap, and each x
  // vector is loaded once for all of them. Per group: partial sums of
  // x (c - o), then times the group's scale (plus sum(x) times its min).
  auto dots = [&](ArrayRef<Value> vs, Value m) -> SmallVector<Value> {
    const size_t R = vs.size();
    SmallVector<Value> zeros(R, k.splat(vt, 0.0));
    SmallVector<Value> rows;
    for (Value v : vs)
      rows.push_back(dec->rowKey(v));
    // One group's chunks: R partial sums, then sum(x) when there are mins.
    auto groupPass = [&](Value g, Value d0) {
      SmallVector<Value> init(zeros);
      if (dec->hasMin())
        init.push_back(k.splat(vt, 0.0));
      if (prefetchPerGroup)
        prefetchRows(rows, g, c0);
      return k.forLoop(c0, k.idx(span), k.idx(vw), init, [&](Value j, ValueRange args) {
        if (!prefetchPerGroup)
          prefetchRows(rows, g, j);
        SmallVector<Value> xv;
        for (int64_t p = 0; p < cpl; ++p)
          xv.push_back(k.vload(vt, x, {m, k.add(d0 ? k.add(d0, j) : j, k.idx(p * span))}));
        SmallVector<Value> next;
        for (size_t r = 0; r < R; ++r) {
          SmallVector<Value> wv = dec->widen(rows[r], g, j);
          Value acc = args[r];
          for (int64_t p = 0; p < cpl; ++p)
            acc = k.fma(xv[p], wv[p], acc);
          next.push_back(acc);
        }
        if (dec->hasMin()) {
          Value sx = xv[0];
          for (int64_t p = 1; p < cpl; ++p)
            sx = k.add(sx, xv[p]);
          next.push_back(k.add(args[R], sx));
        }
        return next;
      });
    };
    SmallVector<Value> totals;
    if (dec->groups() == 1) {
      SmallVector<Value> in = groupPass(c0, Value());
      for (size_t r = 0; r < R; ++r) {
        Value t = k.sum(in[r]);
        if (dec->scaled())
          t = k.mul(t, dec->scale(rows[r], c0));
        if (dec->hasMin())
          t = k.add(t, k.mul(k.sum(in[R]), dec->min(rows[r], c0)));
        totals.push_back(t);
      }
      return totals;
    }
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(dec->groups()), c1, zeros, [&](Value g, ValueRange outer) {
          SmallVector<Value> in = groupPass(g, k.mul(g, k.idx(G)));
          SmallVector<Value> next;
          for (size_t r = 0; r < R; ++r) {
            Value t = k.fma(in[r], k.bcast(vt, dec->scale(rows[r], g)), outer[r]);
            if (dec->hasMin())
              t = k.fma(in[R], k.bcast(vt, dec->min(rows[r], g)), t);
            next.push_back(t);
          }
          return next;
        });
    for (Value a : acc)
      totals.push_back(k.sum(a));
    return totals;
  };

  // VNNI: x's row is quantized per block of 32 once per unit and row; each
  // block of a vocabulary row is one 256-bit vpdpbusd of its 32 unsigned
  // codes u (w = (u - o) s + m) with the activation codes. One scale per row
  // (int8): sum_b s_b (dot_b - o sum(xq_b)) times the row's scale, the
  // offset term shared by all vocabulary rows. Groups of 32 (one
  // activation block each): per block, the offset off the 8 lanes and the
  // group's and block's scales in one multiply.
  const bool vnni = s.getDot() && dec->hasQuads() && (dec->groups() == 1 || G == 32);
  const int64_t offset = dec->dotOffset();
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
    if (dec->groups() != 1)
      return;
    // sum_b s_b o sum(xq_b): the unsigned codes' offset, shared by all rows.
    Value corr = k.forLoop(c0, k.idx(D / 32), c1, {k.f32(0.0)},
                           [&](Value blk, ValueRange acc) {
                             Value t = k.mul(k.load(hs, {slot, blk}),
                                             k.load(hsum, {slot, blk}));
                             return SmallVector<Value>{
                                 k.add(k.mul(t, k.f32(double(offset))), acc[0])};
                           })[0];
    k.store(corr, hcorr, {slot});
  };
  auto vnniDots = [&](ArrayRef<Value> vs) -> SmallVector<Value> {
    const size_t R = vs.size();
    const bool perRow = dec->groups() == 1;
    auto v8 = VectorType::get({8}, b.getF32Type());
    auto i8x32 = VectorType::get({32}, b.getI8Type());
    auto i32x8 = VectorType::get({8}, b.getI32Type());
    SmallVector<Value> rows;
    for (Value v : vs)
      rows.push_back(dec->rowKey(v));
    Value zero = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i32x8, b.getI32IntegerAttr(0)));
    SmallVector<Value> init(R, k.splat(v8, 0.0));
    if (!perRow && dec->hasMin())
      init.append(R, k.f32(0.0)); // the m s_x sum(xq) terms
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(D / 32), c1, init, [&](Value blk, ValueRange args) {
          Value k0 = k.mul(blk, k.idx(32));
          // Per row: the block's bytes; per group of 32: the group.
          prefetchRows(rows, perRow ? c0 : blk, k0);
          Value xv = b.create<vector::BitCastOp>(i32x8, k.vload(i8x32, hq, {codeAt(k0)}));
          Value sx = k.load(hs, {slot, blk});
          SmallVector<Value> next(args.begin(), args.end());
          Value xsum, offV;
          if (!perRow) {
            xsum = k.load(hsum, {slot, blk});
            // o sum(xq) over the 8 lanes: o/8 sum(xq) off each.
            if (offset)
              offV = k.bcast(v8, offset == 8 ? xsum : k.mul(xsum, k.f32(offset / 8.0)));
          }
          for (size_t r = 0; r < R; ++r) {
            Value d = k.dpbusd(zero, dec->quads32(rows[r], perRow ? c0 : blk, perRow ? blk : c0), xv,
                               offset == 128);
            Value f = b.create<arith::SIToFPOp>(v8, d);
            if (perRow) {
              next[r] = k.fma(f, k.bcast(v8, sx), args[r]);
              continue;
            }
            Value sw = dec->scale(rows[r], blk);
            next[r] = k.fma(offV ? k.sub(f, offV) : f, k.bcast(v8, k.mul(sw, sx)), args[r]);
            if (dec->hasMin())
              next[R + r] = k.add(args[R + r], k.mul(dec->min(rows[r], blk), k.mul(sx, xsum)));
          }
          return next;
        });
    SmallVector<Value> totals;
    for (size_t r = 0; r < R; ++r) {
      if (perRow) {
        Value t = k.sum(acc[r]);
        if (offset)
          t = k.sub(t, k.load(hcorr, {slot}));
        totals.push_back(k.mul(t, dec->scale(rows[r], c0)));
        continue;
      }
      totals.push_back(dec->hasMin() ? k.add(k.sum(acc[r]), acc[R + r]) : k.sum(acc[r]));
    }
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
      SmallVector<Value> t = vnniDots(vs);
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
