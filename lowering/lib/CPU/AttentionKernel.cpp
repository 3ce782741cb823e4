//===- AttentionKernel.cpp - causal attention over the KV cache ------------===//
//
// A work unit is one kv head g. The unit first appends the n new keys and
// values of head g at positions pos..pos+n-1 of this layer's cache, then,
// for every new row t (two at a time in prefill), runs one pass over the
// cached positions 0..pos+t for all the query heads of g's group at once
// (grouped-query attention reads each cached key and value from memory
// once, not once per query head), with an online softmax per query, 16
// positions (one vector of scores) per step:
//
//   s[i] = q.K[j+i] * scale; m' = max(m, max_i s); c = exp(m - m');
//   p = exp(s - m'); l = l c + sum(p); acc = acc c + sum_i p[i] V[j+i]
//   out = acc / l
//
// so scores are never materialized. A block of 16 keys and values, loaded
// once, serves every query of the pass from L1 (flash-attention style),
// two queries at a time in registers. Owning a whole kv head per unit means
// no other thread reads cache rows this unit is writing.
//
// The cache stores f32, f16 (rounded on write, widened on read) or i8
// codes with one f32 scale per stored head vector (max|x| / 127), in which
// case a key's dot product and a value's weight are scaled once per
// position rather than per element.
//
// With rope_theta, each new key is rotated before it is appended and each
// query as it is loaded (rotate-half pairing): the angle p * f is taken in
// f64 and reduced to [-pi, pi] there, then sine and cosine run as f32
// polynomials on whole vectors, so the rotation is exact enough at any
// position and costs a few vector instructions per head vector.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;

namespace {
/// What the full and the split (flash-decoding) attention kernels share.
struct AttentionSpec {
  Operation *op;
  KVCacheType cache;
  int64_t heads;
  bool packed;
  double scale;
  int64_t splits; // 1: the whole range per unit, normalized output
  SmallVector<double> ropeFreq; // rotary inverse frequencies; empty: none
};

LogicalResult buildAttentionKernel(ImplicitLocOpBuilder &b,
                                   const AttentionSpec &spec, KernelArgs &a) {
  KB k(b);
  Operation *op = spec.op;
  KVCacheType cache = spec.cache;
  int64_t hd = cache.getHeadDim(), kvh = cache.getKvHeads();
  int64_t group = spec.heads / kvh;
  const int64_t S = spec.splits;
  int64_t vw = scheduleOf(op).getVectorWidth();
  if (hd % vw != 0)
    return op->emitOpError() << "schedule vector_width " << vw
                             << " does not divide head_dim " << hd;
  int64_t nv = hd / vw;
  auto vt = VectorType::get({vw}, b.getF32Type());
  // Three inputs, or one packed [q | k | v] row per token.
  const bool packed = spec.packed;
  Value q = a.inputs[0];
  Value kIn = packed ? q : a.inputs[1], vIn = packed ? q : a.inputs[2];
  const int64_t heads = spec.heads;
  const int64_t kCol = packed ? heads * hd : 0, vCol = packed ? (heads + kvh) * hd : 0;
  Value c0 = k.idx(0), c1 = k.idx(1);
  Value scale = k.f32(spec.scale);
  Type storage = cache.getElementType();
  const bool int8 = storage.isSignlessInteger(8);
  const int64_t C = cache.getContextLength();
  auto svt = VectorType::get({vw}, storage);
  constexpr int64_t kBlock = 16; // cached positions per softmax step
  auto bt = VectorType::get({kBlock}, b.getF32Type());
  // Lane r of the result: the sum of the lanes of v[r] (16 vectors of 16),
  // by a shuffle tree: each level adds the two halves of every chunk of
  // two vectors, halving the chunk (8, 4, 2, 1 lanes per vector).
  auto laneSums = [&](SmallVector<Value> v) {
    for (int64_t c = kBlock / 2; c >= 1; c /= 2) {
      SmallVector<int64_t> lo, hi;
      for (int64_t base = 0; base < 2 * kBlock; base += 2 * c)
        for (int64_t i = 0; i < c; ++i) {
          lo.push_back(base + i);
          hi.push_back(base + c + i);
        }
      SmallVector<Value> next;
      for (size_t i = 0; i + 1 < v.size(); i += 2)
        next.push_back(k.add(b.create<vector::ShuffleOp>(v[i], v[i + 1], lo),
                             b.create<vector::ShuffleOp>(v[i], v[i + 1], hi)));
      v = next;
    }
    return v[0];
  };
  SmallVector<int32_t> ids;
  for (int32_t i = 0; i < kBlock; ++i)
    ids.push_back(i);
  Value laneIds = b.create<arith::ConstantOp>(DenseElementsAttr::get(
      VectorType::get({kBlock}, b.getI32Type()), ArrayRef<int32_t>(ids)));

  // Rotary embedding of one head vector (nv vectors) at position p: lane l
  // becomes x[l] cos(p f[l mod hd/2]) -+ x[(l + hd/2) mod hd] sin(...),
  // minus for the first half. Constants per vector j: the lanes'
  // frequencies (f64) and signs; the partner vector is x's vectors shifted
  // by hd/2 lanes (a swap when hd/2 is a multiple of the vector width).
  const bool rope = !spec.ropeFreq.empty();
  auto f64vt = VectorType::get({vw}, b.getF64Type());
  SmallVector<Value> ropeFreqV, ropeSign;
  if (rope) {
    for (int64_t j = 0; j < nv; ++j) {
      SmallVector<double> f;
      SmallVector<float> sign;
      for (int64_t l = 0; l < vw; ++l) {
        int64_t g = j * vw + l;
        f.push_back(spec.ropeFreq[size_t(g % (hd / 2))]);
        sign.push_back(g < hd / 2 ? -1.f : 1.f);
      }
      ropeFreqV.push_back(b.create<arith::ConstantOp>(
          DenseElementsAttr::get(f64vt, ArrayRef<double>(f))));
      ropeSign.push_back(b.create<arith::ConstantOp>(
          DenseElementsAttr::get(vt, ArrayRef<float>(sign))));
    }
  }
  auto rotate = [&](ArrayRef<Value> x, Value p) -> SmallVector<Value> {
    if (!rope)
      return SmallVector<Value>(x);
    Value pf = b.create<arith::UIToFPOp>(
        b.getF64Type(), b.create<arith::IndexCastOp>(b.getI64Type(), p));
    Value pv = b.create<vector::BroadcastOp>(f64vt, pf);
    Value twoPi = b.create<arith::ConstantOp>(DenseElementsAttr::get(f64vt, 2 * M_PI));
    Value invTwoPi =
        b.create<arith::ConstantOp>(DenseElementsAttr::get(f64vt, 1 / (2 * M_PI)));
    SmallVector<Value> y;
    for (int64_t j = 0; j < nv; ++j) {
      Value ang = b.create<arith::MulFOp>(pv, ropeFreqV[size_t(j)]);
      Value turns = b.create<math::RoundEvenOp>(b.create<arith::MulFOp>(ang, invTwoPi));
      Value red = b.create<arith::TruncFOp>(
          vt, b.create<arith::SubFOp>(ang, b.create<arith::MulFOp>(turns, twoPi)));
      Value cs = b.create<math::CosOp>(red), sn = b.create<math::SinOp>(red);
      int64_t g0 = (j * vw + hd / 2) % hd;
      Value partner;
      if (g0 % vw == 0) {
        partner = x[size_t(g0 / vw)];
      } else {
        int64_t va = g0 / vw, vb = (va + 1) % nv;
        SmallVector<int64_t> mask;
        for (int64_t l = 0; l < vw; ++l) {
          int64_t g = (g0 + l) % hd;
          mask.push_back(g / vw == va ? g % vw : vw + g % vw);
        }
        partner = b.create<vector::ShuffleOp>(x[size_t(va)], x[size_t(vb)], mask);
      }
      y.push_back(k.fma(partner, k.mul(sn, ropeSign[size_t(j)]), k.mul(x[size_t(j)], cs)));
    }
    return y;
  };

  // A cache half (keys or values): elements, and for i8 the scales.
  struct Half {
    Value elems, scales;
  };
  auto half = [&](Value buf) -> Half {
    if (!int8)
      return {buf, Value()};
    return {k.view(buf, c0, {kvh, C, hd}, storage),
            k.view(buf, k.idx(kvh * C * hd), {kvh, C}, b.getF32Type())};
  };
  Half kc = half(a.kCache), vc = half(a.vCache);

  // Stores one head vector (nv f32 vectors) at position p.
  auto append = [&](Half h, Value g, Value p, ArrayRef<Value> x) {
    if (!int8) {
      for (int64_t j = 0; j < nv; ++j) {
        Value v = storage.isF32() ? x[j] : b.create<arith::TruncFOp>(svt, x[j]);
        k.vstore(v, h.elems, {g, p, k.idx(j * vw)});
      }
      return;
    }
    Value amax = b.create<math::AbsFOp>(x[0]);
    for (int64_t j = 1; j < nv; ++j)
      amax = b.create<arith::MaximumFOp>(amax, b.create<math::AbsFOp>(x[j]));
    Value m = b.create<vector::ReductionOp>(vector::CombiningKind::MAXIMUMF, amax);
    Value positive = b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, m, k.f32(0.0));
    Value inv = b.create<arith::SelectOp>(positive, k.div(k.f32(127.0), m), k.f32(0.0));
    k.store(k.div(m, k.f32(127.0)), h.scales, {g, p});
    Value invV = k.bcast(vt, inv);
    for (int64_t j = 0; j < nv; ++j) {
      Value r = b.create<math::RoundEvenOp>(k.mul(x[j], invV));
      k.vstore(b.create<arith::FPToSIOp>(svt, r), h.elems, {g, p, k.idx(j * vw)});
    }
  };
  // Vector j of the head vector at position pj, unscaled.
  auto read = [&](Half h, Value g, Value pj, int64_t j) {
    return k.toF32(k.vload(svt, h.elems, {g, pj, k.idx(j * vw)}));
  };

  // Per-query scratch of one attend() call (at most two rows of a group):
  // scaled, rotated q, and the online softmax's m, l and acc.
  const int64_t maxQ = 2 * group;
  Value qS = b.create<memref::AllocaOp>(MemRefType::get({maxQ, hd}, b.getF32Type()));
  Value accS = b.create<memref::AllocaOp>(MemRefType::get({maxQ, hd}, b.getF32Type()));
  Value mS = b.create<memref::AllocaOp>(MemRefType::get({maxQ}, b.getF32Type()));
  Value lS = b.create<memref::AllocaOp>(MemRefType::get({maxQ}, b.getF32Type()));

  // Unit u: kv head g = u / S, range s = u % S of the cached positions.
  // Every range's unit appends the head's new keys and values first (the
  // same bytes), so whichever positions it reads it has written itself.
  k.forLoop(a.begin, a.end, c1, [&](Value u) {
    Value g = S == 1 ? u : b.create<arith::DivUIOp>(u, k.idx(S)).getResult();
    Value s = S == 1 ? c0 : b.create<arith::RemUIOp>(u, k.idx(S)).getResult();
    Value gOff = k.mul(g, k.idx(hd));
    // Append this head's new keys and values.
    k.forLoop(c0, a.n, c1, [&](Value t) {
      Value p = k.add(a.pos, t);
      SmallVector<Value> kx, vx;
      for (int64_t j = 0; j < nv; ++j) {
        Value src = k.add(gOff, k.idx(j * vw));
        kx.push_back(k.vload(vt, kIn, {t, k.add(src, k.idx(kCol))}));
        vx.push_back(k.vload(vt, vIn, {t, k.add(src, k.idx(vCol))}));
      }
      append(kc, g, p, rotate(kx, p));
      append(vc, g, p, vx);
    });
    // The queries that share kv head g: every head of its group for a block
    // of `rows` consecutive rows, query i = (row t0 + i / group, head
    // h0 + i % group). One pass over the cached positions serves them all:
    // each block of kBlock keys and values is loaded from memory once and
    // then read from L1 by every query, in chunks of R whose state (m, l,
    // acc) and scaled, rotated q wait in stack scratch between blocks.
    Value h0 = k.mul(g, k.idx(group));
    auto attend = [&](Value t0, int64_t rows) {
      const int64_t Q = rows * group;
      auto rowOf = [&](Value i) {
        return k.add(t0, b.create<arith::DivUIOp>(i, k.idx(group)).getResult());
      };
      auto headOf = [&](Value i) {
        return k.add(h0, b.create<arith::RemUIOp>(i, k.idx(group)).getResult());
      };
      // Every query's row length; the last query's row is the longest.
      auto lenOf = [&](Value row) { return k.add(k.add(a.pos, row), c1); };
      Value lenLast = lenOf(k.add(t0, k.idx(rows - 1)));
      // This unit's cached positions [lo, hi): a range of the row's
      // 0 .. pos+t when split (one row), else all of the longest row's.
      Value lo = c0, hi = lenLast;
      if (S > 1) {
        lo = b.create<arith::DivUIOp>(k.mul(s, lenLast), k.idx(S));
        hi = b.create<arith::DivUIOp>(k.mul(k.add(s, c1), lenLast), k.idx(S));
      }
      Value sv = k.bcast(vt, scale);
      k.forLoop(c0, k.idx(Q), c1, [&](Value i) {
        Value t = rowOf(i), qOff = k.mul(headOf(i), k.idx(hd));
        SmallVector<Value> raw;
        for (int64_t j = 0; j < nv; ++j)
          raw.push_back(k.vload(vt, q, {t, k.add(qOff, k.idx(j * vw))}));
        SmallVector<Value> qr = rotate(raw, k.add(a.pos, t));
        for (int64_t j = 0; j < nv; ++j) {
          k.vstore(k.mul(qr[j], sv), qS, {i, k.idx(j * vw)});
          k.vstore(k.splat(vt, 0.0), accS, {i, k.idx(j * vw)});
        }
        k.store(k.f32(-1.0e30), mS, {i});
        k.store(k.f32(0.0), lS, {i});
      });
      Value last = b.create<arith::MaxUIOp>(k.sub(hi, c1), lo);
      auto at = [&](Value p0, int64_t i) {
        return b.create<arith::MinUIOp>(k.add(p0, k.idx(i)), last).getResult();
      };
      // Queries per chunk, in registers: two (each key and value vector
      // loaded once for both) where their q, acc and 16 dot products fit,
      // head_dim up to 64; a pair of rows of one head as before at any.
      const int64_t R = Q % 2 == 0 && (nv <= 4 || Q == 2) ? 2 : 1;
      const int64_t width = 2 + nv;          // per query: m, l, acc[nv]
      // One block of kBlock positions for R queries: their scores form one
      // vector, so the softmax's max, exp and sum run on vectors; positions
      // past a row's end read the last valid one and get probability 0.
      // `args` is the queries' state, the result the next.
      auto blockStep = [&](Value p0, ArrayRef<SmallVector<Value>> qv, ArrayRef<Value> lens,
                           ValueRange args) -> SmallVector<Value> {
        SmallVector<Value> scores(R, k.splat(bt, -1.0e30));
        Value ks; // int8: the keys' scales
        if (int8) {
          ks = k.splat(bt, 0.0);
          for (int64_t i = 0; i < kBlock; ++i)
            ks = b.create<vector::InsertOp>(k.load(kc.scales, {g, at(p0, i)}), ks, i);
        }
        SmallVector<SmallVector<Value>> dots(R);
        for (int64_t i = 0; i < kBlock; ++i) {
          Value pj = at(p0, i);
          SmallVector<Value> key;
          for (int64_t j = 0; j < nv; ++j)
            key.push_back(read(kc, g, pj, j));
          for (int64_t r = 0; r < R; ++r) {
            Value dot = k.splat(vt, 0.0);
            for (int64_t j = 0; j < nv; ++j)
              dot = k.fma(qv[r][j], key[j], dot);
            if (vw == kBlock) { // summed across lanes below, 16 at once
              dots[r].push_back(dot);
              continue;
            }
            scores[r] = b.create<vector::InsertOp>(k.sum(dot), scores[r], i);
          }
        }
        Value p0i = b.create<arith::IndexCastOp>(b.getI32Type(), p0);
        auto i32v = VectorType::get({kBlock}, b.getI32Type());
        Value lanes = b.create<arith::AddIOp>(laneIds, k.bcast(i32v, p0i));
        SmallVector<Value> next, pvs;
        for (int64_t r = 0; r < R; ++r) {
          if (vw == kBlock)
            scores[r] = laneSums(dots[r]);
          if (int8)
            scores[r] = k.mul(scores[r], ks);
          Value leni = b.create<arith::IndexCastOp>(b.getI32Type(), lens[r]);
          Value valid = b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, lanes,
                                                k.bcast(i32v, leni));
          scores[r] = b.create<arith::SelectOp>(valid, scores[r], k.splat(bt, -1.0e30));
          Value m = args[r * width], l = args[r * width + 1];
          Value mBlock =
              b.create<vector::ReductionOp>(vector::CombiningKind::MAXIMUMF, scores[r]);
          Value mNew = b.create<arith::MaximumFOp>(m, mBlock);
          Value corr = b.create<math::ExpOp>(k.sub(m, mNew));
          Value pv = b.create<math::ExpOp>(k.sub(scores[r], k.bcast(bt, mNew)));
          pvs.push_back(pv);
          next.push_back(mNew);
          next.push_back(k.add(k.mul(l, corr), k.sum(pv)));
          Value corrV = k.bcast(vt, corr);
          for (int64_t j = 0; j < nv; ++j)
            next.push_back(k.mul(args[r * width + 2 + j], corrV));
        }
        for (int64_t i = 0; i < kBlock; ++i) {
          Value pj = at(p0, i);
          SmallVector<Value> value;
          for (int64_t j = 0; j < nv; ++j)
            value.push_back(read(vc, g, pj, j));
          Value vscale = int8 ? k.load(vc.scales, {g, pj}) : Value();
          for (int64_t r = 0; r < R; ++r) {
            Value w = b.create<vector::ExtractOp>(pvs[r], i);
            if (int8)
              w = k.mul(w, vscale);
            Value wV = k.bcast(vt, w);
            for (int64_t j = 0; j < nv; ++j)
              next[r * width + 2 + j] = k.fma(wV, value[j], next[r * width + 2 + j]);
          }
        }
        return next;
      };
      // Chunk c's queries: q, row lengths and state from the scratch.
      auto loadChunk = [&](Value c, SmallVector<SmallVector<Value>> &qv,
                           SmallVector<Value> &lens, SmallVector<Value> &state) {
        for (int64_t r = 0; r < R; ++r) {
          Value i = k.add(c, k.idx(r));
          lens.push_back(S > 1 ? hi : lenOf(rowOf(i)));
          qv.emplace_back();
          for (int64_t j = 0; j < nv; ++j)
            qv.back().push_back(k.vload(vt, qS, {i, k.idx(j * vw)}));
          state.push_back(k.load(mS, {i}));
          state.push_back(k.load(lS, {i}));
          for (int64_t j = 0; j < nv; ++j)
            state.push_back(k.vload(vt, accS, {i, k.idx(j * vw)}));
        }
      };
      auto storeChunk = [&](Value c, ArrayRef<Value> state) {
        for (int64_t r = 0; r < R; ++r) {
          Value i = k.add(c, k.idx(r));
          k.store(state[r * width], mS, {i});
          k.store(state[r * width + 1], lS, {i});
          for (int64_t j = 0; j < nv; ++j)
            k.vstore(state[r * width + 2 + j], accS, {i, k.idx(j * vw)});
        }
      };
      if (Q == R) {
        // One chunk (multi-head attention, or a group of two): its q and
        // state stay in registers for the whole pass.
        SmallVector<SmallVector<Value>> qv;
        SmallVector<Value> lens, init;
        loadChunk(c0, qv, lens, init);
        storeChunk(c0, k.forLoop(lo, hi, k.idx(kBlock), init, [&](Value p0, ValueRange args) {
          return blockStep(p0, qv, lens, args);
        }));
      } else {
        // Every chunk of the group over a block while the block is in L1.
        k.forLoop(lo, hi, k.idx(kBlock), [&](Value p0) {
          k.forLoop(c0, k.idx(Q), k.idx(R), [&](Value c) {
            SmallVector<SmallVector<Value>> qv;
            SmallVector<Value> lens, state;
            loadChunk(c, qv, lens, state);
            storeChunk(c, blockStep(p0, qv, lens, state));
          });
        });
      }
      k.forLoop(c0, k.idx(Q), c1, [&](Value i) {
        Value t = rowOf(i), h = headOf(i);
        Value qOff = k.mul(h, k.idx(hd));
        Value m = k.load(mS, {i}), l = k.load(lS, {i});
        if (S == 1) {
          Value inv = k.bcast(vt, k.div(k.f32(1.0), l));
          for (int64_t j = 0; j < nv; ++j)
            k.vstore(k.mul(k.vload(vt, accS, {i, k.idx(j * vw)}), inv), a.out,
                     {t, k.add(qOff, k.idx(j * vw))});
          return;
        }
        // Partial: [acc (hd) | m | l] at (h * S + s) * (hd + 2).
        Value base = k.mul(k.add(k.mul(h, k.idx(S)), s), k.idx(hd + 2));
        for (int64_t j = 0; j < nv; ++j)
          k.vstore(k.vload(vt, accS, {i, k.idx(j * vw)}), a.out,
                   {t, k.add(base, k.idx(j * vw))});
        k.store(m, a.out, {t, k.add(base, k.idx(hd))});
        k.store(l, a.out, {t, k.add(base, k.idx(hd + 1))});
      });
    };
    // Pairs of rows (not when split: a range depends on the row), then the
    // rest one by one.
    Value nPairs = c0;
    if (S == 1) {
      nPairs = k.mul(b.create<arith::DivUIOp>(a.n, k.idx(2)), k.idx(2));
      k.forLoop(c0, nPairs, k.idx(2), [&](Value t) { attend(t, 2); });
    }
    k.forLoop(nPairs, a.n, c1, [&](Value t) { attend(t, 1); });
  });
  return success();
}
} // namespace

LogicalResult cpu::buildAttention(ImplicitLocOpBuilder &b, AttentionOp op,
                                  KernelArgs &a) {
  return buildAttentionKernel(b,
                              {op, op.getCache().getType(), int64_t(op.getNumHeads()),
                               op.isPacked(), op.getScaleOrDefault(), 1,
                               op.getRopeInverseFrequencies()},
                              a);
}

LogicalResult cpu::buildAttentionPartial(ImplicitLocOpBuilder &b,
                                         AttentionPartialOp op, KernelArgs &a) {
  return buildAttentionKernel(b,
                              {op, op.getCache().getType(), int64_t(op.getNumHeads()),
                               op.isPacked(), op.getScaleOrDefault(),
                               int64_t(op.getSplits()), op.getRopeInverseFrequencies()},
                              a);
}

LogicalResult cpu::buildAttentionCombine(ImplicitLocOpBuilder &b,
                                         AttentionCombineOp op, KernelArgs &a) {
  KB k(b);
  const int64_t H = op.getNumHeads(), hd = op.getHeadDim(), S = op.getSplits();
  int64_t vw = scheduleOf(op).getVectorWidth();
  if (hd % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide head_dim " << hd;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value in = a.inputs[0];
  k.forLoop(a.begin, a.end, k.idx(1), [&](Value r) {
    for (int64_t h = 0; h < H; ++h) {
      auto base = [&](int64_t s) { return (h * S + s) * (hd + 2); };
      Value m = k.load(in, {r, k.idx(base(0) + hd)});
      for (int64_t s = 1; s < S; ++s)
        m = b.create<arith::MaximumFOp>(m, k.load(in, {r, k.idx(base(s) + hd)}));
      Value l = k.f32(0.0);
      SmallVector<Value> acc(hd / vw, k.splat(vt, 0.0));
      for (int64_t s = 0; s < S; ++s) {
        Value w = b.create<math::ExpOp>(k.sub(k.load(in, {r, k.idx(base(s) + hd)}), m));
        l = k.add(l, k.mul(w, k.load(in, {r, k.idx(base(s) + hd + 1)})));
        Value wV = k.bcast(vt, w);
        for (int64_t j = 0; j < hd / vw; ++j)
          acc[j] = k.fma(wV, k.vload(vt, in, {r, k.idx(base(s) + j * vw)}), acc[j]);
      }
      Value inv = k.bcast(vt, k.div(k.f32(1.0), l));
      for (int64_t j = 0; j < hd / vw; ++j)
        k.vstore(k.mul(acc[j], inv), a.out, {r, k.idx(h * hd + j * vw)});
    }
  });
  return success();
}
